// The pieces of `npm run bench` and `konsul bench` that compute figures:
// nearest-rank percentiles, the latency summary, failover round summaries,
// and the side-by-side table (ratio, target, met) in text and Markdown.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarizeRounds } from '../../src/cli/commands/bench/failover.js';
import { LatencyRecorder, buildResult, percentile, summarize } from '../../src/cli/commands/bench/stats.js';
import { formatSelfTimes, selfTimes } from './profile-summary.js';
import { formatNumber, met, ratio, renderMarkdown, renderText, targetText, type Row } from './report.js';

describe('percentiles', () => {
  const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it('nearest rank: the smallest value with at least p% at or below it', () => {
    assert.equal(percentile(oneToHundred, 50), 50);
    assert.equal(percentile(oneToHundred, 90), 90);
    assert.equal(percentile(oneToHundred, 99), 99);
    assert.equal(percentile(oneToHundred, 100), 100);
    assert.equal(percentile(oneToHundred, 0), 1);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
    assert.equal(percentile([7], 50), 7);
    assert.equal(percentile([1, 2], 50), 1);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('the recorder keeps every value across growth and sorts numerically', () => {
    const r = new LatencyRecorder();
    // 5000 values, past the first buffer, in an order where a string sort would be wrong.
    for (let i = 5000; i >= 1; i--) r.add(i % 2 === 0 ? i : i / 10);
    assert.equal(r.count, 5000);
    const sorted = r.sorted();
    for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i - 1] <= sorted[i]);
    assert.equal(sorted[sorted.length - 1], 5000);
    assert.equal(sorted[0], 0.1);
  });

  it('summarize and buildResult: percentiles, mean, throughput, errors counted', () => {
    const s = summarize(oneToHundred);
    assert.deepEqual(s, { p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 });
    const r = new LatencyRecorder();
    for (const v of oneToHundred) r.add(v);
    const result = buildResult('write', 'http://x', 4, r, { 'HTTP 503': 3, timeout: 2 }, 2);
    assert.equal(result.throughput, 50);
    assert.equal(result.ok, 100);
    assert.equal(result.errorCount, 5);
    assert.deepEqual(result.latencyMs, s);
    const empty = summarize([]);
    assert.ok(Number.isNaN(empty.p50) && Number.isNaN(empty.max) && Number.isNaN(empty.mean));
  });

  it('failover rounds: median, p90 and worst of those that got a write; failed ones counted', () => {
    const rounds = [120, 80, null, 300, 100].map((ms, i) => ({ round: i + 1, leader: 'k1', ms }));
    assert.deepEqual(summarizeRounds(rounds), { failed: 1, medianMs: 100, p90Ms: 300, worstMs: 300 });
    assert.deepEqual(summarizeRounds([{ round: 1, leader: 'k1', ms: null }]), { failed: 1, medianMs: null, p90Ms: null, worstMs: null });
  });
});

describe('the side-by-side table', () => {
  const row = (over: Partial<Row>): Row => ({ figure: 'writes c=64', unit: 'ops/s', konsul: 3000, reference: 2000, referenceName: 'etcd', ...over });

  it('ratio is konsul ÷ reference, missing when either side is', () => {
    assert.equal(ratio(row({})), 1.5);
    assert.equal(ratio(row({ reference: null })), null);
    assert.equal(ratio(row({ konsul: null })), null);
    assert.equal(ratio(row({ reference: 0 })), null);
  });

  it('met: each kind of target, at and either side of its bound', () => {
    assert.equal(met(row({ target: { kind: 'ratioAtLeast', value: 1.5 } })), true);
    assert.equal(met(row({ konsul: 2999, target: { kind: 'ratioAtLeast', value: 1.5 } })), false);
    assert.equal(met(row({ konsul: 2000, target: { kind: 'ratioAtMost', value: 1 } })), true);
    assert.equal(met(row({ konsul: 2001, target: { kind: 'ratioAtMost', value: 1 } })), false);
    assert.equal(met(row({ konsul: 9.99, target: { kind: 'below', value: 10 } })), true);
    assert.equal(met(row({ konsul: 10, target: { kind: 'below', value: 10 } })), false);
    assert.equal(met(row({ konsul: 0, target: { kind: 'atMost', value: 0 } })), true);
    assert.equal(met(row({ konsul: 1, target: { kind: 'atMost', value: 0 } })), false);
    assert.equal(met(row({ target: undefined })), null);
    assert.equal(met(row({ reference: null, target: { kind: 'ratioAtLeast', value: 2 } })), null, 'no reference: cannot tell');
    assert.equal(met(row({ konsul: null, target: { kind: 'below', value: 1 } })), null);
  });

  it('target text names the reference or the unit', () => {
    assert.equal(targetText(row({ target: { kind: 'ratioAtLeast', value: 2 }, referenceName: 'etcd serializable' })), '≥ 2× etcd serializable');
    assert.equal(targetText(row({ target: { kind: 'ratioAtMost', value: 1 } })), '≤ etcd');
    assert.equal(targetText(row({ unit: 'ms', target: { kind: 'below', value: 300 } })), '< 300 ms');
    assert.equal(targetText(row({})), '');
  });

  it('numbers: three significant decimals at most, thousands grouped, "-" when missing', () => {
    assert.equal(formatNumber(12345.6), '12,346');
    assert.equal(formatNumber(12.345), '12.3');
    assert.equal(formatNumber(1.2345), '1.23');
    assert.equal(formatNumber(0.12345), '0.123');
    assert.equal(formatNumber(null), '-');
    assert.equal(formatNumber(NaN), '-');
  });

  const rows: Row[] = [
    row({ target: { kind: 'ratioAtLeast', value: 1.5 } }),
    row({ figure: 'failover | kill -9', unit: 'ms', konsul: 250, reference: null, target: { kind: 'below', value: 300 }, note: 'ten rounds' }),
  ];

  it('text: aligned columns, one line per row, met as yes/NO', () => {
    const lines = renderText(rows).split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0], /^figure\s+konsul\s+reference\s+ratio\s+target\s+met$/);
    const at = lines[0].indexOf('konsul');
    assert.ok(lines.slice(1).every((l) => l[at - 1] === ' ' && l[at] !== ' '), 'the konsul column starts at the same place');
    assert.match(lines[1], /^writes c=64 \(ops\/s\)\s+3,000\s+2,000 \(etcd\)\s+1\.5×\s+≥ 1\.5× etcd\s+yes$/);
    assert.match(lines[2], /- \(etcd\)\s+-\s+< 300 ms\s+yes$/);
  });

  it('Markdown: a header, an alignment row, pipes in cells escaped, notes after the table', () => {
    const md = renderMarkdown(rows).split('\n');
    assert.equal(md[0], '| figure | konsul | reference | ratio | target | met |');
    assert.equal(md[1], '| --- | ---: | ---: | ---: | --- | ---: |');
    assert.equal(md[2], '| writes c=64 (ops/s) | 3,000 | 2,000 (etcd) | 1.5× | ≥ 1.5× etcd | yes |');
    assert.ok(md[3].startsWith('| failover \\| kill -9 (ms) |'), md[3]);
    assert.equal(md.at(-1), '- failover | kill -9: ten rounds');
  });
});

describe('CPU profile summary', () => {
  it('charges each sample\'s time delta to its function, merges same-named frames, leaves idle out, largest first', () => {
    const frame = (functionName: string, url: string, lineNumber: number) => ({ functionName, url, lineNumber });
    const profile = {
      startTime: 0, endTime: 10_000,
      nodes: [
        { id: 1, callFrame: frame('(root)', '', -1) },
        { id: 2, callFrame: frame('encode', 'file:///repo/dist/src/raft/log.js', 9) },
        { id: 3, callFrame: frame('', 'file:///repo/node_modules/undici/lib/pool.js', 0) },
        { id: 4, callFrame: frame('encode', 'file:///repo/dist/src/raft/log.js', 9) },
        { id: 5, callFrame: frame('(idle)', '', -1) },
      ],
      samples: [2, 3, 4, 2, 1, 5],
      timeDeltas: [1000, 500, 2000, 1000, 0, 9000],
    };
    const times = selfTimes(profile, '/repo/');
    assert.deepEqual(times.map((t) => [t.name, t.ms]), [['encode dist/src/raft/log.js:10', 4], ['(anonymous) undici/lib/pool.js:1', 0.5]]);
    assert.ok(Math.abs(times[0].share - 4 / 4.5) < 1e-9);
    assert.match(formatSelfTimes(times), /^ 88\.9%\s+4 ms  encode dist\/src\/raft\/log\.js:10\n 11\.1%/);
  });
});
