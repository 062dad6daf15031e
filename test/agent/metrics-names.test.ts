// Issue 15: /metrics passes promtool's naming rules (`promtool check metrics`):
// a counter's name ends in `_total` and nothing else's does. prom-client's
// default metrics had three gauges named `..._total`; they are renamed.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { AgentMetrics } from '../../src/agent/metrics.js';

/** promtool's `_total` rules over an exposition text: one problem line per metric that breaks them. */
export function totalSuffixProblems(text: string): string[] {
  const problems: string[] = [];
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type] = m;
    if (type === 'counter' && !name.endsWith('_total')) problems.push(`${name}: counter metrics should have "_total" suffix`);
    if (type !== 'counter' && name.endsWith('_total')) problems.push(`${name}: non-counter metrics should not have "_total" suffix`);
  }
  return problems;
}

describe('issue 15: metric names promtool accepts', () => {
  it('the agent\'s /metrics text, default metrics included, breaks no _total rule', async () => {
    const metrics = new AgentMetrics({ nodeId: 'n1', defaultMetrics: true });
    const text = await metrics.text();
    assert.deepEqual(totalSuffixProblems(text), []);
    assert.match(text, /^# TYPE konsul_nodejs_active_handles gauge$/m, 'the counts stay, by type');
    assert.match(text, /^# TYPE konsul_http_requests_total counter$/m);
  });

  it('the check catches prom-client\'s own defaults (the three gauges named _total)', async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'konsul_' });
    const problems = totalSuffixProblems(await registry.metrics());
    assert.deepEqual(problems.map((p) => p.split(':')[0]).sort(), [
      'konsul_nodejs_active_handles_total', 'konsul_nodejs_active_requests_total', 'konsul_nodejs_active_resources_total',
    ]);
  });
});
