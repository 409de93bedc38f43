// A rules file for a differently named schema produces the right events with no code change:
// other table and column names, a JSON path, constants, a tree directory with other columns,
// a remembered value, and a registry table of another shape.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { waitFor } from '../helpers/wait-for.js';

const SCHEMA = `
CREATE DATABASE cc2;
CREATE TABLE cc2.agentes (login VARCHAR(40) PRIMARY KEY, ext VARCHAR(10), nombre VARCHAR(100));
CREATE TABLE cc2.actividad (
  n BIGINT AUTO_INCREMENT PRIMARY KEY, ts DATETIME(3) NOT NULL, quien VARCHAR(40) NOT NULL,
  tipo VARCHAR(20) NOT NULL, detalle JSON NULL, llamada VARCHAR(40) NULL
);
CREATE TABLE cc2.tipificaciones (codigo INT PRIMARY KEY, padre INT NULL, etiqueta VARCHAR(100) NOT NULL);
CREATE TABLE cc2.contactos (
  uid VARCHAR(40) PRIMARY KEY, canal VARCHAR(20), cola VARCHAR(40), operador VARCHAR(40), cliente VARCHAR(40),
  inicio DATETIME, fin DATETIME, estado VARCHAR(10), tip INT NULL
);
CREATE TABLE cc2.ganchos (gid INT AUTO_INCREMENT PRIMARY KEY, evento VARCHAR(64), destino VARCHAR(500));
GRANT SELECT ON cc2.* TO 'ucw_bridge'@'%';
`;

const RULES_YAML =
  `
version: 1
sourceTimezone: America/Montevideo
registry: { table: cc2.ganchos, key: gid, eventColumn: evento, urlColumn: destino }
directories:
  agentes:
    table: cc2.agentes
    key: login
    match: [ { column: login }, { column: ext, pattern: '^EXT-(\\d+)$' } ]
  tips:
    table: cc2.tipificaciones
    key: codigo
    parent: { column: padre, root: null }
memories:
  numeroPorLlamada:
    table: cc2.actividad
    when: { column: tipo, eq: ENTRA }
    key: llamada
    value: quien
rules:
  - id: sesion
    event: AgentLog
    table: cc2.actividad
    on: [insert]
    when: { column: tipo, in: [ENTRADA, SALIDA] }
    date: { column: ts }
    orderKey: agent
    fields:
      agent: { coalesce: [ { lookup: { directory: agentes, ` +
  `key: { column: quien }, column: login } }, { column: quien } ] }
      isLogin: { test: { column: tipo, eq: ENTRADA } }
  - id: pausa
    event: AgentBreak
    table: cc2.actividad
    on: [insert]
    when: { column: tipo, eq: PAUSA }
    date: { column: ts }
    orderKey: agent
    fields:
      agent: { column: quien }
      motive: { json: { column: detalle, path: $.motivo.texto } }
      isBreak: { const: true }
  - id: no_contesta
    event: AgentRingNoAnswer
    table: cc2.actividad
    on: [insert]
    when: { column: tipo, eq: NOCONTESTA }
    date: { column: ts }
    orderKey: agent
    fields:
      agent: { lookup: { directory: agentes, key: { column: quien }, column: login } }
      agentNumber: { lookup: { directory: agentes, key: { column: quien }, column: ext } }
      agentFullName: { lookup: { directory: agentes, key: { column: quien }, column: nombre } }
      callerIdNum: { remembered: { memory: numeroPorLlamada, key: { column: llamada } } }
      campaign: { const: 'Ventas<-' }
  - id: fin
    event: FinishInteraction
    table: cc2.contactos
    on: [update]
    when: { all: [ { changed: estado }, { column: estado, eq: CERRADO } ] }
    date: { column: fin }
    orderKey: guid
    fields:
      guid: { column: uid }
      campaign: { column: cola }
      agent: { column: operador }
      channel: { column: canal }
      clientId: { column: cliente }
      startDate: { column: inicio }
      endDate: { column: fin }
      duration: { secondsBetween: [ { column: inicio }, { column: fin } ] }
  - id: asignacion
    event: AssignInteraction
    table: cc2.contactos
    on: [insert]
    when: { column: operador, isNull: false }
    date: { column: inicio }
    orderKey: guid
    fields:
      guid: { column: uid }
      campaign: { column: cola }
      agent: { column: operador }
      channel: { column: canal }
      clientId: { column: cliente }
  - id: tipificacion
    event: InteractionDisposition
    table: cc2.contactos
    on: [update]
    when: { all: [ { changed: tip }, { column: tip, isNull: false } ] }
    orderKey: guid
    fields:
      guid: { column: uid }
      campaign: { column: cola }
      agent: { column: operador }
      clientId: { column: cliente }
      dispositionId: { column: tip }
      l1: { lookup: { directory: tips, key: { column: tip }, column: etiqueta, level: 1 } }
      l2: { lookup: { directory: tips, key: { column: tip }, column: etiqueta, level: 2 } }
      l3: { lookup: { directory: tips, key: { column: tip }, column: etiqueta, level: 3 } }
`;

void describe('custom rules on another schema', () => {
  const env = useIntegrationEnv();
  before(() => env.src.db.exec(SCHEMA));

  void test('--rules FILE maps cc2 tables to the six events', async () => {
    const { src, rx } = env;
    const stateDir = src.stateDir();
    const rulesPath = join(stateDir, '..', `rules-${process.pid}.yaml`);
    writeFileSync(rulesPath, RULES_YAML);
    await src.tx(
      "INSERT INTO cc2.agentes VALUES ('ana', '301', 'Ana Núñez')",
      'INSERT INTO cc2.tipificaciones VALUES (10, NULL, "Venta"), (11, 10, "Contado")',
      [
        'INSERT INTO cc2.ganchos (evento, destino) VALUES (?, ?), (?, ?), (?, ?), (?, ?), (?, ?), (?, ?)',
        [
          'AgentLog',
          rx.urlFor('/x'),
          'AgentBreak',
          rx.urlFor('/x'),
          'AgentRingNoAnswer',
          rx.urlFor('/x'),
          'FinishInteraction',
          rx.urlFor('/x'),
          'InteractionDisposition',
          rx.urlFor('/x'),
          'AssignInteraction',
          rx.urlFor('/x'),
        ],
      ],
    );
    const bridge = env.startBridge({ stateDir, args: ['--rules', rulesPath, '--timezone', 'UTC'] });
    await bridge.waitReady();

    await src.tx("INSERT INTO cc2.actividad (ts, quien, tipo) VALUES ('2026-03-02 09:00:00', 'EXT-301', 'ENTRADA')");
    await src.tx(
      `INSERT INTO cc2.actividad (ts, quien, tipo, detalle) VALUES ('2026-03-02 ` +
        `09:30:00', 'ana', 'PAUSA', '{"motivo":{"texto":"Almuerzo 🍲"}}')`,
    );
    await src.tx(
      'INSERT INTO cc2.actividad (ts, quien, tipo, llamada) ' +
        "VALUES ('2026-03-02 10:00:00', '59897777777', 'ENTRA', 'L1')",
    );
    await src.tx(
      'INSERT INTO cc2.actividad (ts, quien, tipo, llamada) VALUES ' +
        "('2026-03-02 10:00:20', 'EXT-301', 'NOCONTESTA', 'L1')",
    );
    await src.tx(
      "INSERT INTO cc2.contactos VALUES ('u1', 'whatsapp', 'Ventas', " +
        "'ana', '59897777777', '2026-03-02 10:01:00', NULL, 'ABIERTO', NULL)",
    );
    await src.tx("UPDATE cc2.contactos SET fin = '2026-03-02 10:02:40', estado = 'CERRADO' WHERE uid = 'u1'");
    await src.tx("UPDATE cc2.contactos SET tip = 11 WHERE uid = 'u1'");

    await waitFor(() => rx.requests.length >= 6, {
      message: () => `${rx.requests.length}/6 events; ${JSON.stringify(bridge.logs.slice(-5))}`,
    });
    const byEvent = Object.fromEntries(
      rx.requests.map((r) => [(JSON.parse(r.body) as { event: string }).event, r.body]),
    );
    // One request per event: a map by event would hide a second one.
    assert.equal(rx.requests.length, 6, rx.requests.map((r) => r.body).join('\n'));
    // Source times are Montevideo wall-clock (UTC-3); output is UTC.
    assert.equal(byEvent.AgentLog, '{"event":"AgentLog","date":"2026-03-02 12:00:00","agent":"ana","isLogin":true}');
    assert.equal(
      byEvent.AgentBreak,
      '{"event":"AgentBreak","date":"2026-03-02 12:30:00","agent":"ana","motive":"Almuerzo 🍲","isBreak":true}',
    );
    assert.equal(
      byEvent.AgentRingNoAnswer,
      '{"event":"AgentRingNoAnswer","date":"2026-03-02 13:00:20","agent":"ana","agentNumber":"301",' +
        '"agentFullName":"Ana Núñez","callerIdNum":"59897777777","campaign":"Ventas<-"}',
    );
    assert.equal(
      byEvent.FinishInteraction,
      '{"event":"FinishInteraction","date":"2026-03-02 13:02:40","guid":"u1",' +
        '"campaign":"Ventas","agent":"ana","channel":"whatsapp","clientId":"59897777777",' +
        '"startDate":"2026-03-02 13:01:00","endDate":"2026-03-02 13:02:40","duration":100}',
    );
    assert.equal(
      byEvent.AssignInteraction,
      '{"event":"AssignInteraction","date":"2026-03-02 13:01:00","guid":"u1",' +
        '"campaign":"Ventas","agent":"ana","channel":"whatsapp","clientId":"59897777777"}',
    );
    const dispo = JSON.parse(byEvent.InteractionDisposition!) as { date: string };
    assert.equal(
      byEvent.InteractionDisposition,
      `{"event":"InteractionDisposition","date":"${dispo.date}","guid":"u1","campaign":"Ventas",` +
        `"agent":"ana","clientId":"59897777777","dispositionId":11,"l1":"Venta","l2":"Contado","l3":null}`,
    );
    assert.equal(rx.requests.length, 6);
  });
});
