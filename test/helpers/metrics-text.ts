// The one reader of Prometheus text in the tests: parses a /metrics scrape into samples, and reads
// one metric of a running bridge by name (summed over the samples whose labels match).

export interface Sample {
  readonly name: string;
  /** The label set as written, braces included ('' when none): '{event="AgentLog"}'. */
  readonly labels: string;
  readonly value: number;
}

/** Every sample line of a Prometheus text scrape (comments and blank lines skipped). */
export function parseMetricsText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) samples.push({ name: m[1]!, labels: m[2] ?? '', value: Number(m[3]) });
  }
  return samples;
}

/**
 * Sum of a metric's samples whose labels include `labels` ('outcome="retry"'); undefined when the
 * scrape has no such sample.
 */
export function metricIn(text: string, name: string, labels = ''): number | undefined {
  let sum: number | undefined;
  for (const s of parseMetricsText(text)) {
    if (s.name !== name || (labels !== '' && !s.labels.includes(labels))) continue;
    sum = (sum ?? 0) + s.value;
  }
  return sum;
}

/** The /metrics text of the bridge whose health server listens on `port`. */
export async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
  return res.text();
}

/** One metric of a running bridge (see metricIn); throws when the scrape does not have it. */
export async function metric(port: number, name: string, labels = ''): Promise<number> {
  const value = metricIn(await scrape(port), name, labels);
  if (value === undefined) throw new Error(`metric ${name}${labels ? `{${labels}}` : ''} not in /metrics`);
  return value;
}
