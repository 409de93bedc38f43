// A failure that repeats at the same checkpoint (here: a memory's fallback SELECT on a table whose
// SELECT grant was revoked under the running bridge) must not spin forever: after 5 identical
// failures from the same position the bridge stops with UCW_ERR_SOURCE_STUCK naming the position.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';

const SCHEMA = `
CREATE DATABASE cc4;
CREATE TABLE cc4.marcas (n BIGINT AUTO_INCREMENT PRIMARY KEY, uid VARCHAR(40) NOT NULL, quien VARCHAR(40));
CREATE TABLE cc4.llamadas (uid VARCHAR(40) PRIMARY KEY, fin DATETIME NULL);
CREATE TABLE cc4.ganchos (gid INT AUTO_INCREMENT PRIMARY KEY, evento VARCHAR(64), destino VARCHAR(500));
GRANT SELECT ON cc4.* TO 'ucw_bridge'@'%';
`;

const RULES_YAML = `
version: 1
registry: { table: cc4.ganchos, key: gid, eventColumn: evento, urlColumn: destino }
memories:
  quien:
    table: cc4.marcas
    key: uid
    value: quien
    orderBy: n
rules:
  - id: fin
    event: FinishInteraction
    table: cc4.llamadas
    on: [insert]
    date: { column: fin }
    orderKey: guid
    fields:
      guid: { column: uid }
      campaign: { const: c }
      agent: { remembered: { memory: quien, key: { column: uid } } }
      channel: { const: voice }
      clientId: { const: x }
      startDate: { column: fin }
      endDate: { column: fin }
      duration: { const: 0 }
`;

void describe('a failure that repeats at the same checkpoint', () => {
  const env = useIntegrationEnv();
  before(() => env.src.db.exec(SCHEMA));

  void test('stops the bridge with UCW_ERR_SOURCE_STUCK and the position after 5 identical failures', async () => {
    const { src, rx } = env;
    await src.tx(['INSERT INTO cc4.ganchos (evento, destino) VALUES (?, ?)', ['FinishInteraction', rx.urlFor('/fin')]]);
    await src.tx("INSERT INTO cc4.marcas (uid, quien) VALUES ('u1', 'ana')");
    const stateDir = src.stateDir();
    const rulesPath = join(stateDir, 'rules.yaml');
    writeFileSync(rulesPath, RULES_YAML);
    const bridge = env.startBridge({ stateDir, args: ['--rules', rulesPath] });
    await bridge.waitReady();
    await src.db.exec(
      "REVOKE SELECT ON cc4.* FROM 'ucw_bridge'@'%'; GRANT SELECT ON cc4.llamadas " +
        "TO 'ucw_bridge'@'%'; GRANT SELECT ON cc4.ganchos TO 'ucw_bridge'@'%'",
    );
    await src.tx("INSERT INTO cc4.llamadas VALUES ('u1', '2026-03-02 10:00:00')");

    const fatal = await bridge.waitForLog((l) => l.level === 'fatal', 'fatal stop', 30_000);
    assert.equal(fatal.code, 'UCW_ERR_SOURCE_STUCK');
    // Every reconnect streamed from the same checkpoint: the one before the transaction that fails.
    const froms = bridge.logs
      .filter((l) => l.msg === 'state loaded; streaming from checkpoint')
      .slice(1)
      .map((l) => l.position);
    assert.deepEqual(froms, Array(5).fill(fatal.position));
    assert.equal(fatal.repeated, 'UCW_ERR_SOURCE_QUERY');
    assert.match(String(fatal.error), /5 times in a row .*lookup in cc4\.marcas failed/);
    // One failure on the first stream (it started before the checkpoint moved past the REVOKE), four
    // more from the checkpoint, then the fifth there is fatal.
    const retries = bridge.logs.filter((l) => l.msg === 'source unavailable; reconnecting');
    assert.deepEqual(
      retries.map((l) => l.code),
      Array(5).fill('UCW_ERR_SOURCE_QUERY'),
    );
    assert.equal(await bridge.waitExit(), 1);
    assert.equal(rx.requests.length, 0);
  });
});
