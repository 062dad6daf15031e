// The agent's Prometheus text turned into Consul's /v1/agent/metrics JSON:
// gauges as Gauges, counters as Counters, histograms and summaries as Samples.
// Values are the registry's running totals (Consul's are per 10 s interval).

interface Sample { name: string; labels: Record<string, string>; value: number }

/** One sample line of the text exposition format: `name{a="b",c="d"} 1.5`. */
function parseLine(line: string): Sample | undefined {
  const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
  if (!m) return undefined;
  const labels: Record<string, string> = {};
  for (const l of (m[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
  }
  const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
  return { name: m[1]!, labels, value };
}

/** Consul's timestamp layout: `2017-08-08 02:55:10 +0000 UTC`. */
function consulTime(now: Date): string {
  return `${now.toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;
}

export function metricsJson(text: string, now: Date): Record<string, unknown> {
  const types = new Map<string, string>();
  const gauges: unknown[] = [];
  const counters: unknown[] = [];
  const samples = new Map<string, { Name: string; Count: number; Sum: number; Labels: Record<string, string> }>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const s = parseLine(line);
    if (!s || !Number.isFinite(s.value)) continue;
    const base = s.name.replace(/_(count|sum|bucket)$/, '');
    const kind = types.get(s.name) ?? types.get(base);
    if (kind === 'gauge') gauges.push({ Name: s.name, Value: s.value, Labels: s.labels });
    else if (kind === 'counter') {
      counters.push({ Name: s.name, Count: s.value, Rate: 0, Sum: s.value, Min: s.value, Max: s.value, Mean: s.value, Stddev: 0, Labels: s.labels });
    } else if ((kind === 'histogram' || kind === 'summary') && base !== s.name && !s.name.endsWith('_bucket')) {
      const { le: _le, quantile: _q, ...labels } = s.labels;
      const key = `${base}${JSON.stringify(labels)}`;
      let entry = samples.get(key);
      if (!entry) samples.set(key, (entry = { Name: base, Count: 0, Sum: 0, Labels: labels }));
      if (s.name.endsWith('_count')) entry.Count = s.value;
      else entry.Sum = s.value;
    }
  }
  return {
    Timestamp: consulTime(now),
    Gauges: gauges,
    Points: [],
    Counters: counters,
    Samples: [...samples.values()].map((e) => {
      const mean = e.Count > 0 ? e.Sum / e.Count : 0;
      return { Name: e.Name, Count: e.Count, Rate: 0, Sum: e.Sum, Min: mean, Max: mean, Mean: mean, Stddev: 0, Labels: e.Labels };
    }),
  };
}
