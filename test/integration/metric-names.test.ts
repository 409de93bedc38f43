// The alerts and the dashboard shipped in docker/ query only metrics a running bridge exposes: every
// metric name in docker/prometheus-alerts.yml and docker/grafana-dashboard.json is a family of a real
// scrape of /metrics, taken after events were delivered (so the histograms have samples); a
// histogram's _bucket, _sum and _count count as its name. The same run checks the per-URL metrics end
// to end: commit-to-2xx latency for a healthy URL, a growing oldest pending age for a failing one.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { startReceiver } from '../../demo/receiver.js';
import { PROJECT_ROOT } from '../helpers/bridge-process.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

const EVENTS = 5;

/**
 * The bridge's metric names in a PromQL expression: every `ucw_` word (label names, functions and
 * Prometheus' own `up` have no such prefix).
 */
const namesIn = (expr: string): string[] => [...expr.matchAll(/\bucw_[a-z0-9_]+\b/g)].map((m) => m[0]);

function alertNames(): Map<string, string> {
  const file = parseYaml(readFileSync(join(PROJECT_ROOT, 'docker', 'prometheus-alerts.yml'), 'utf8')) as {
    groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
  };
  const used = new Map<string, string>();
  for (const r of file.groups.flatMap((g) => g.rules)) for (const n of namesIn(r.expr)) used.set(n, `alert ${r.alert}`);
  return used;
}

function dashboardNames(): Map<string, string> {
  interface Panel {
    title?: string;
    targets?: Array<{ expr?: string }>;
    panels?: Panel[];
  }
  const dash = JSON.parse(readFileSync(join(PROJECT_ROOT, 'docker', 'grafana-dashboard.json'), 'utf8')) as {
    panels: Panel[];
    templating: { list: Array<{ name: string; definition?: string }> };
  };
  const used = new Map<string, string>();
  const visit = (p: Panel): void => {
    for (const t of p.targets ?? []) for (const n of namesIn(t.expr ?? '')) used.set(n, `panel "${p.title}"`);
    for (const child of p.panels ?? []) visit(child);
  };
  dash.panels.forEach(visit);
  for (const v of dash.templating.list) for (const n of namesIn(v.definition ?? '')) used.set(n, `variable ${v.name}`);
  return used;
}

/** `# TYPE` families of a scrape, with their types, and the names of the samples present. */
function parseScrape(text: string): { families: Map<string, string>; samples: Set<string> } {
  const families = new Map<string, string>();
  const samples = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) families.set(type[1]!, type[2]!);
    else if (/^[a-z_]/.test(line)) samples.add(/^[a-zA-Z0-9_:]+/.exec(line)![0]);
  }
  return { families, samples };
}

/** The family a sample name belongs to: itself, or a histogram's base name for _bucket/_sum/_count. */
function familyOf(name: string, families: ReadonlyMap<string, string>): string | undefined {
  if (families.has(name)) return name;
  const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
  return base !== undefined && ['histogram', 'summary'].includes(families.get(base) ?? '') ? base : undefined;
}

const sampleValue = (text: string, name: string, url: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`url="${url}"`));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
};

void describe('metric names of the shipped alerts and dashboard', () => {
  const env = useIntegrationEnv();

  void test('every metric the alerts and the dashboard query is in a scrape of a running bridge', async (t) => {
    const { src, rx } = env;
    await src.reset();
    rx.clear();
    rx.setResponder(() => ({ status: 200 }));
    const failing = await startReceiver(() => ({ status: 500 }));
    t.after(() => failing.close());
    const healthyUrl = rx.urlFor('/names');
    const failingUrl = failing.urlFor('/names-failing');
    await src.tx(setUrl('AgentBreak', healthyUrl), [
      'INSERT INTO ccdata.webhooks (name, event, url) VALUES (?, ?, ?)',
      ['names-failing', 'AgentBreak', failingUrl],
    ]);
    const bridge = env.startBridge();
    await bridge.waitReady();
    const port = bridge.httpPort();
    for (let i = 0; i < EVENTS; i++) {
      await src.tx(queueLog({ time: `2026-03-02 14:0${i}:00.000`, agent: `names-${i}`, event: 'PAUSE', data1: 'x' }));
    }
    await waitFor(() => rx.requests.length >= EVENTS, {
      timeoutMs: 30_000,
      message: () => `the receiver got ${rx.requests.length}/${EVENTS} events`,
    });
    const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    // Delivery is recorded just after the receiver answers: wait for the count, then scrape.
    await waitFor(async () => sampleValue(await scrape(), 'ucw_delivery_latency_seconds_count', healthyUrl) === EVENTS);
    const text = await scrape();
    const { families, samples } = parseScrape(text);

    const used = new Map([...alertNames(), ...dashboardNames()]);
    assert.ok(used.size >= 20, `the alerts and dashboard use ${used.size} metric names`);
    const missing = [...used]
      .filter(([name]) => familyOf(name, families) === undefined)
      .map(([name, where]) => `${name} (${where})`);
    assert.deepEqual(missing, [], 'metric names used in docker/ but not exposed by the bridge');

    // The histograms queried have samples, so histogram_quantile() has something to work on.
    for (const name of used.keys()) {
      if (name.endsWith('_bucket')) assert.ok(samples.has(name), `${name} has no samples after deliveries`);
    }
    // Latency from commit to 2xx, per URL: one observation per delivered event, seconds, not hours.
    const latencySum = sampleValue(text, 'ucw_delivery_latency_seconds_sum', healthyUrl);
    assert.ok(latencySum >= 0 && latencySum < EVENTS * 60, `latency sum ${latencySum}`);
    assert.equal(sampleValue(text, 'ucw_oldest_pending_age_seconds', healthyUrl), 0);
    // The failing URL keeps its deliveries pending: its oldest one's age is reported and grows.
    const age = sampleValue(text, 'ucw_oldest_pending_age_seconds', failingUrl);
    assert.ok(age >= 0, `oldest pending age of the failing URL: ${age}`);
    await waitFor(async () => sampleValue(await scrape(), 'ucw_oldest_pending_age_seconds', failingUrl) > age + 1, {
      message: 'the failing URL oldest pending age did not grow',
    });
    assert.ok(Number.isNaN(sampleValue(text, 'ucw_delivery_latency_seconds_count', failingUrl)));
    assert.equal(await bridge.stop(), 0);
  });
});
