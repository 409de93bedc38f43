// The deployment examples in docker/ are part of the product: the systemd unit, its env file, the
// Kubernetes manifests and compose.yaml must name options the bridge has, point the probes at its
// endpoints, mount secrets the way it accepts them, stop later than its shutdown grace, and start
// node with the same memory flags as the command. Parsed here; the tools that run them are tried in
// test/integration/deploy-tools.test.ts where present.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { configSchema, OPTIONS } from '../../src/config/config.js';
import { envName } from '../../src/config/option-names.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const OPTION_ENV = new Set(OPTIONS.map((o) => envName(o.key)));
const DEFAULT_GRACE_MS = configSchema.shape.shutdownGraceMs.parse(undefined);

/** The malloc settings and node flags of the first line of src/cli.ts (what `ucontact-webhooks` runs). */
function shebang(): { env: string[]; flags: string[] } {
  const first = read('src/cli.ts').split('\n', 1)[0]!;
  const words = first.replace(/^#!\/usr\/bin\/env -S /, '').split(' ');
  const node = words.indexOf('node');
  return { env: words.slice(0, node), flags: words.slice(node + 1) };
}

/** UCW_* names a text sets or mentions, commented lines included (an example line must work too). */
function ucwNames(text: string): string[] {
  return [...new Set([...text.matchAll(/\b(UCW_[A-Z0-9_]+)=/g)].map((m) => m[1]!))];
}

/** A systemd unit as section -> key -> values (a key may repeat, e.g. Environment=). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current && eq > 0, `not a unit line: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

function seconds(value: string): number {
  const m = /^(\d+)(s|min)?$/.exec(value);
  assert.ok(m, `unexpected systemd time span ${value}`);
  return Number(m[1]) * (m[2] === 'min' ? 60 : 1);
}

void describe('docker/systemd', () => {
  const unit = parseUnit(read('docker/systemd/ucontact-webhooks.service'));
  const service = unit.get('Service')!;
  const one = (key: string): string => {
    const values = service.get(key) ?? [];
    assert.equal(values.length, 1, `[Service] ${key} is given ${values.length} times`);
    return values[0]!;
  };
  const envFileText = read('docker/systemd/ucontact-webhooks.env.example');
  const envFile = new Map(
    envFileText
      .split('\n')
      .filter((l) => /^UCW_[A-Z0-9_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
  );

  void test('starts node with the memory settings of the command and restarts on failure, not on exit 2', () => {
    const { env, flags } = shebang();
    const environment = (service.get('Environment') ?? []).flatMap((e) => e.split(' '));
    for (const setting of env) assert.ok(environment.includes(setting), `Environment= lacks ${setting}`);
    const exec = one('ExecStart').split(' ');
    assert.equal(exec[0], '/usr/bin/node');
    assert.deepEqual(exec.slice(1, -2), flags);
    assert.match(exec.at(-2)!, /\/node_modules\/ucontact-webhooks\/dist\/cli\.js$/);
    assert.equal(exec.at(-1), 'run');
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('RestartPreventExitStatus'), '2');
  });

  void test('state dir, env file, secrets from files, and a stop timeout above the shutdown grace', () => {
    assert.equal(one('StateDirectory'), 'ucontact-webhooks');
    assert.equal(one('StateDirectoryMode'), '0700');
    assert.ok((service.get('Environment') ?? []).includes('UCW_STATE_DIR=/var/lib/ucontact-webhooks'));
    assert.equal(one('EnvironmentFile'), '/etc/ucontact-webhooks/ucontact-webhooks.env');
    assert.ok(one('User') !== 'root');
    assert.equal(one('KillSignal'), 'SIGTERM');
    assert.match(envFile.get('UCW_MYSQL_URL_FILE') ?? '', /^\/etc\/ucontact-webhooks\//);
    assert.match(envFile.get('UCW_SIGNING_SECRET_FILE') ?? '', /^\/etc\/ucontact-webhooks\//);
    assert.ok(!envFile.has('UCW_MYSQL_URL') && !envFile.has('UCW_SIGNING_SECRET'), 'a secret value in the env file');
    const graceMs = Number(envFile.get('UCW_SHUTDOWN_GRACE_MS') ?? DEFAULT_GRACE_MS);
    assert.ok(seconds(one('TimeoutStopSec')) * 1000 > graceMs, `TimeoutStopSec is not above ${graceMs} ms`);
  });

  void test('every UCW_* variable of the unit and the env file is an option of the bridge', () => {
    const names = [...ucwNames(envFileText), ...ucwNames((service.get('Environment') ?? []).join(' '))];
    assert.ok(names.length >= 6, names.join(' '));
    assert.deepEqual(
      names.filter((n) => !OPTION_ENV.has(n)),
      [],
    );
  });
});

interface K8sObject {
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
}
interface Container {
  env: Array<{ name: string; value?: string }>;
  ports: Array<{ name: string; containerPort: number }>;
  volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  livenessProbe: { httpGet: { path: string; port: string | number } };
  readinessProbe: { httpGet: { path: string; port: string | number } };
}
interface PodSpec {
  terminationGracePeriodSeconds: number;
  securityContext: { fsGroup?: number; runAsNonRoot?: boolean };
  containers: Container[];
  volumes: Array<{ name: string; secret?: { secretName: string; defaultMode: number } }>;
}

void describe('docker/kubernetes', () => {
  // YAML 1.1 as Kubernetes reads it: `defaultMode: 0400` is octal there (decimal 400 in YAML 1.2).
  const docs = parseAllDocuments(read('docker/kubernetes/ucontact-webhooks.yaml'), { version: '1.1' }).map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJS() as K8sObject;
  });
  const byKind = (kind: string): K8sObject => {
    const found = docs.filter((d) => d.kind === kind);
    assert.equal(found.length, 1, `${found.length} objects of kind ${kind}`);
    return found[0]!;
  };
  const sts = byKind('StatefulSet');
  const template = sts.spec.template as { metadata: { labels: Record<string, string> }; spec: PodSpec };
  const pod = template.spec;
  const container = pod.containers[0]!;
  const env = new Map(container.env.map((e) => [e.name, e.value]));

  void test('a Service, a StatefulSet and a PodDisruptionBudget that select the same pods', () => {
    assert.deepEqual(docs.map((d) => d.kind).sort(), ['PodDisruptionBudget', 'Service', 'StatefulSet']);
    const labels = template.metadata.labels;
    const selects = (selector: Record<string, string>): boolean =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    assert.ok(selects((sts.spec.selector as { matchLabels: Record<string, string> }).matchLabels));
    assert.ok(selects(byKind('Service').spec.selector as Record<string, string>));
    assert.ok(
      selects((byKind('PodDisruptionBudget').spec.selector as { matchLabels: Record<string, string> }).matchLabels),
    );
    assert.equal(byKind('PodDisruptionBudget').spec.maxUnavailable, 1);
    assert.equal(sts.spec.serviceName, byKind('Service').metadata.name);
  });

  void test('each bridge has its own volume, mounted at its state dir', () => {
    const claims = sts.spec.volumeClaimTemplates as Array<{ metadata: { name: string } }>;
    assert.equal(claims.length, 1);
    const mount = container.volumeMounts.find((m) => m.name === claims[0]!.metadata.name);
    assert.equal(mount?.mountPath, env.get('UCW_STATE_DIR'));
  });

  void test('probes on /healthz and /readyz at the port the bridge listens on, on all addresses', () => {
    const port = container.ports.find((p) => p.name === container.livenessProbe.httpGet.port);
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.readinessProbe.httpGet.port, container.livenessProbe.httpGet.port);
    assert.equal(String(port?.containerPort), env.get('UCW_HTTP_PORT'));
    assert.equal(env.get('UCW_HTTP_HOST'), '0.0.0.0');
  });

  void test('secrets are files of a read-only secret volume with mode 0400, named by the *_FILE options', () => {
    const volume = pod.volumes.find((v) => v.secret !== undefined);
    assert.equal(volume?.secret?.defaultMode, 0o400);
    const mount = container.volumeMounts.find((m) => m.name === volume.name);
    assert.equal(mount?.readOnly, true);
    for (const name of ['UCW_MYSQL_URL_FILE', 'UCW_SIGNING_SECRET_FILE', 'UCW_ADMIN_TOKEN_FILE']) {
      assert.ok(env.get(name)?.startsWith(`${mount.mountPath}/`), `${name} is not a file of the secret volume`);
    }
    assert.ok(
      !env.has('UCW_MYSQL_URL') && !env.has('UCW_SIGNING_SECRET') && !env.has('UCW_ADMIN_TOKEN'),
      'a secret value in the environment',
    );
    // fsGroup makes the files 0440 root:fsGroup, which the bridge accepts only through a group of its own.
    assert.equal(pod.securityContext.fsGroup, 1000);
    assert.equal(pod.securityContext.runAsNonRoot, true);
  });

  void test('every UCW_* variable is an option, and the pod stops later than the shutdown grace', () => {
    const names = [...env.keys()].filter((n) => n.startsWith('UCW_'));
    assert.deepEqual(
      names.filter((n) => !OPTION_ENV.has(n)),
      [],
    );
    const graceMs = Number(env.get('UCW_SHUTDOWN_GRACE_MS') ?? DEFAULT_GRACE_MS);
    assert.ok(pod.terminationGracePeriodSeconds * 1000 > graceMs);
  });
});

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; target?: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  stop_grace_period?: string;
}

void describe('docker/compose.yaml', () => {
  const compose = parse(read('docker/compose.yaml')) as { services: Record<string, ComposeService> };
  const { mysql, bridge, receiver, traffic } = compose.services;
  const dockerfile = read('docker/Dockerfile');

  void test('MySQL 8.4 with the schema and the bridge user, the bridge as that user, stopped after its grace', () => {
    assert.equal(mysql?.image, 'mysql:8.4');
    assert.ok(mysql?.volumes?.includes('./init:/docker-entrypoint-initdb.d:ro'));
    const user = /IDENTIFIED WITH caching_sha2_password BY '([^']+)'/.exec(read('docker/init/02-bridge-user.sql'));
    const url = new URL(bridge?.environment?.['UCW_MYSQL_URL'] ?? '');
    assert.equal(url.username, 'ucw_bridge');
    assert.equal(url.password, user?.[1]);
    assert.equal(url.hostname, 'mysql');
    assert.equal(bridge?.build?.dockerfile, 'docker/Dockerfile');
    assert.equal(bridge?.build?.target, undefined, 'the bridge is the last stage of the Dockerfile');
    assert.deepEqual(
      Object.keys(bridge?.environment ?? {}).filter((n) => !OPTION_ENV.has(n)),
      [],
    );
    const graceMs = Number(bridge?.environment?.['UCW_SHUTDOWN_GRACE_MS'] ?? DEFAULT_GRACE_MS);
    assert.ok(seconds(bridge?.stop_grace_period ?? '10s') * 1000 > graceMs, 'docker stops the bridge before its grace');
  });

  void test('the demo receiver and traffic run from the demo stage, and the traffic names the receiver', () => {
    assert.match(dockerfile, /^FROM \S+ AS demo$/m);
    for (const svc of [receiver, traffic]) {
      assert.equal(svc?.build?.target, 'demo');
      const file = svc.command!.at(-1)!;
      assert.ok(existsSync(join(ROOT, file)), `${file} does not exist`);
    }
    const rxUrl = new URL(traffic?.environment?.['UCW_DEMO_RECEIVER_URL'] ?? '');
    assert.equal(rxUrl.hostname, 'receiver');
    assert.equal(rxUrl.port, receiver?.environment?.['UCW_DEMO_RECEIVER_PORT']);
    const admin = new URL(traffic?.environment?.['UCW_DEMO_ADMIN_URL'] ?? '');
    assert.equal(admin.password, mysql?.environment?.['MYSQL_ROOT_PASSWORD']);
    assert.equal(traffic?.depends_on?.['mysql']?.condition, 'service_healthy');
  });
});
