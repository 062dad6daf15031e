// Builds a released konsul from this repository's history (releases.json
// names each release's commit): `git archive` of that commit into a cache
// directory, node_modules linked from this tree (the release's dependencies
// are this tree's or older; only compiled JavaScript differs), then tsc. The
// build is cached by commit under node_modules/.cache/konsul-releases/, so a
// second run costs nothing.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Release {
  version: string;
  commit: string;
  protocol: { min: number; max: number };
  dataFormat: number;
}

/** The repository root (dist/test/upgrade/ -> ../../..). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function releases(): Release[] {
  const parsed = JSON.parse(readFileSync(join(REPO_ROOT, 'releases.json'), 'utf8')) as { releases: Release[] };
  return parsed.releases;
}

/** The newest release before the current tree. */
export function previousRelease(): Release {
  const all = releases();
  if (all.length === 0) throw new Error('releases.json lists no release');
  return all[all.length - 1]!;
}

export interface BuiltRelease extends Release {
  /** Directory holding the release's tree and dist/. */
  root: string;
  /** Its bin/konsul.js (run with node). */
  bin: string;
}

/** Whether the commit is in this clone's history (a shallow clone may lack it). */
export function haveCommit(commit: string): boolean {
  try {
    execFileSync('git', ['-C', REPO_ROOT, 'cat-file', '-e', `${commit}^{commit}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Builds (or finds built) the release; throws with git's or tsc's output when that fails. */
export function buildRelease(release: Release, log: (line: string) => void = () => {}): BuiltRelease {
  const cache = join(REPO_ROOT, 'node_modules', '.cache', 'konsul-releases');
  const root = join(cache, `${release.version}-${release.commit.slice(0, 12)}`);
  const bin = join(root, 'bin', 'konsul.js');
  if (existsSync(join(root, '.built'))) return { ...release, root, bin };
  mkdirSync(cache, { recursive: true });
  const partial = `${root}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  try {
    log(`building konsul ${release.version} from commit ${release.commit.slice(0, 12)}`);
    const archive = execFileSync('git', ['-C', REPO_ROOT, 'archive', '--format=tar', release.commit], { maxBuffer: 256 * 1024 * 1024 });
    execFileSync('tar', ['-x', '-C', partial], { input: archive });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(partial, 'node_modules'), 'dir');
    execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
      cwd: partial, stdio: ['ignore', 'pipe', 'pipe'],
    });
    writeFileSync(join(partial, '.built'), `${release.commit}\n`);
    rmSync(root, { recursive: true, force: true });
    renameSync(partial, root);
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    const e = error as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(`building konsul ${release.version} failed: ${e.message}\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`);
  }
  return { ...release, root, bin };
}
