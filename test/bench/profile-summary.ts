// Where a V8 CPU profile (.cpuprofile, from node --cpu-prof) spends its time:
// self time per function, largest first, as text lines for a quick look
// before opening the profile in DevTools or speedscope.

export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }>;
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export interface FunctionTime {
  name: string;
  /** Self time in milliseconds. */
  ms: number;
  /** Share of the profile's sampled time, 0..1. */
  share: number;
}

/** Self time per function (name and file:line, with node_modules and the repo's root trimmed), largest first; idle time left out. */
export function selfTimes(profile: CpuProfile, root = ''): FunctionTime[] {
  const byNode = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time from sample i-1 to sample i: charge it to sample i's node.
  for (let i = 0; i < samples.length; i++) byNode.set(samples[i], (byNode.get(samples[i]) ?? 0) + (deltas[i] ?? 0));
  const byName = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const us = byNode.get(node.id) ?? 0;
    // Time the event loop waited for work is not time spent: leave it out of the shares.
    if (us === 0 || node.callFrame.functionName === '(idle)') continue;
    const f = node.callFrame;
    const file = f.url.replace(/^file:\/\//, '').replace(root, '').replace(/^.*node_modules\//, '');
    const name = `${f.functionName || '(anonymous)'}${file ? ` ${file}:${f.lineNumber + 1}` : ''}`;
    byName.set(name, (byName.get(name) ?? 0) + us);
    total += us;
  }
  return [...byName.entries()]
    .map(([name, us]) => ({ name, ms: us / 1000, share: total > 0 ? us / total : 0 }))
    .sort((a, b) => b.ms - a.ms);
}

export function formatSelfTimes(times: FunctionTime[], top = 25): string {
  return times.slice(0, top).map((t) => `${(t.share * 100).toFixed(1).padStart(5)}%  ${t.ms.toFixed(0).padStart(7)} ms  ${t.name}`).join('\n');
}
