// TIMESTAMP columns are instants: the payload times they give must not depend on the bridge host's
// time zone (TZ) nor on the server's time_zone, whether the value comes from the binlog (zongji) or
// from a SELECT (a memory's fallback lookup).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { privateServerOnly } from '../helpers/external-server.js';
import { waitFor } from '../helpers/wait-for.js';

const SCHEMA = `
CREATE DATABASE cc3;
CREATE TABLE cc3.marcas (n BIGINT AUTO_INCREMENT PRIMARY KEY, uid VARCHAR(40) NOT NULL, ts TIMESTAMP NULL);
CREATE TABLE cc3.llamadas (uid VARCHAR(40) PRIMARY KEY, fin TIMESTAMP NULL);
CREATE TABLE cc3.ganchos (gid INT AUTO_INCREMENT PRIMARY KEY, evento VARCHAR(64), destino VARCHAR(500));
GRANT SELECT ON cc3.* TO 'ucw_bridge'@'%';
`;

// startDate comes from cc3.marcas through the memory's SELECT (the row predates the bridge); date and
// endDate come from the binlog row of cc3.llamadas.
const RULES_YAML = `
version: 1
sourceTimezone: UTC
registry: { table: cc3.ganchos, key: gid, eventColumn: evento, urlColumn: destino }
memories:
  inicio:
    table: cc3.marcas
    key: uid
    value: ts
    orderBy: n
rules:
  - id: fin
    event: FinishInteraction
    table: cc3.llamadas
    on: [insert]
    date: { column: fin }
    orderKey: guid
    fields:
      guid: { column: uid }
      campaign: { const: c }
      agent: { const: a }
      channel: { const: voice }
      clientId: { const: x }
      startDate: { remembered: { memory: inicio, key: { column: uid } } }
      endDate: { column: fin }
      duration: { secondsBetween: [ { remembered: { memory: inicio, key: { column: uid } } }, { column: fin } ] }
`;

void describe('TIMESTAMP columns versus time zones', { skip: privateServerOnly('sets time_zone globally') }, () => {
  const env = useIntegrationEnv();
  before(async () => {
    await env.src.db.exec(SCHEMA);
    // The server renders TIMESTAMPs in the session's time_zone, which starts as the global one.
    await env.src.admin.query("SET GLOBAL time_zone = '-05:00'");
    await env.src.admin.query("SET time_zone = '+00:00'");
  });

  for (const tz of ['UTC', 'America/Montevideo']) {
    void test(`a bridge run with TZ=${tz} writes the UTC instants of binlog and SELECT TIMESTAMPs`, async () => {
      const { src, rx } = env;
      rx.requests.length = 0;
      const uid = `u-${tz}`;
      await src.tx('DELETE FROM cc3.ganchos', [
        'INSERT INTO cc3.ganchos (evento, destino) VALUES (?, ?)',
        ['FinishInteraction', rx.urlFor('/fin')],
      ]);
      await src.tx(['INSERT INTO cc3.marcas (uid, ts) VALUES (?, ?)', [uid, '2026-03-02 14:00:00']]);
      const stateDir = src.stateDir();
      const rulesPath = join(stateDir, 'rules.yaml');
      writeFileSync(rulesPath, RULES_YAML);
      const bridge = env.startBridge({ stateDir, args: ['--rules', rulesPath, '--timezone', 'UTC'], env: { TZ: tz } });
      await bridge.waitReady();
      await src.tx(['INSERT INTO cc3.llamadas (uid, fin) VALUES (?, ?)', [uid, '2026-03-02 14:03:30']]);
      await waitFor(() => rx.requests.length === 1, {
        message: () => `no event; ${JSON.stringify(bridge.logs.slice(-5))}`,
      });
      assert.equal(
        rx.requests[0]!.body,
        `{"event":"FinishInteraction","date":"2026-03-02 14:03:30","guid":"${uid}",` +
          `"campaign":"c","agent":"a","channel":"voice","clientId":"x",` +
          `"startDate":"2026-03-02 14:00:00","endDate":"2026-03-02 14:03:30","duration":210}`,
      );
      assert.equal(await bridge.stop(), 0);
    });
  }
});
