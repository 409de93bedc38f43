import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderBody } from '../../src/delivery/body-format.js';

const ID = '6a1f0c7e-1d2b-5c3d-8e4f-0a1b2c3d4e5f';
const AT = Date.UTC(2026, 2, 2, 14, 5, 9, 120);

void describe('renderBody', () => {
  void it("'ucontact' returns the stored body byte-for-byte", () => {
    const stored = '{"event":"AgentLog", "date":"2026-03-02 14:05:09","agent":"ana","isLogin":true ,"x":1.50}';
    assert.equal(renderBody('ucontact', stored, ID, AT), stored);
    // Even something that is not JSON is passed through untouched.
    assert.equal(renderBody('ucontact', 'not json', ID, AT), 'not json');
  });

  void it("'envelope' wraps an agent event with category/code and keeps field order", () => {
    const stored = JSON.stringify({
      event: 'AgentBreak',
      date: '2026-03-02 14:05:09',
      agent: 'ana',
      motive: 'lunch',
      isBreak: true,
    });
    assert.equal(
      renderBody('envelope', stored, ID, AT),
      `{"Id":"${ID}","CreationDateUtc":"20260302140509","Category":1,"Code":3,"Event":"AgentBreak",` +
        '"Data":{"agent":"ana","motive":"lunch","isBreak":true}}',
    );
  });

  void it("'envelope' uses the interaction category and preserves the body's own field order", () => {
    const stored =
      '{"event":"InteractionDisposition","date":"2026-03-02 14:05:09","guid":"g-1","campaign":"c","agent":"a",' +
      '"clientId":"42","dispositionId":7,"l1":"Sale","l2":"","l3":null}';
    const out = JSON.parse(renderBody('envelope', stored, ID, Date.UTC(1999, 11, 31, 23, 59, 59))) as Record<
      string,
      unknown
    >;
    assert.deepEqual(Object.keys(out), ['Id', 'CreationDateUtc', 'Category', 'Code', 'Event', 'Data']);
    assert.equal(out.CreationDateUtc, '19991231235959');
    assert.equal(out.Category, 4);
    assert.equal(out.Code, 2);
    assert.equal(out.Event, 'InteractionDisposition');
    assert.deepEqual(Object.keys(out.Data as object), [
      'guid',
      'campaign',
      'agent',
      'clientId',
      'dispositionId',
      'l1',
      'l2',
      'l3',
    ]);
    assert.deepEqual(out.Data, {
      guid: 'g-1',
      campaign: 'c',
      agent: 'a',
      clientId: '42',
      dispositionId: 7,
      l1: 'Sale',
      l2: '',
      l3: null,
    });
  });

  void it('drops event/date wherever they appear in the stored body', () => {
    const stored = '{"agent":"ana","event":"AgentLog","isLogin":false,"date":"x"}';
    const out = JSON.parse(renderBody('envelope', stored, ID, AT)) as { Code: number; Data: unknown };
    assert.equal(out.Code, 2);
    assert.deepEqual(out.Data, { agent: 'ana', isLogin: false });
  });

  for (const [label, stored] of [
    ['invalid JSON', '{"event":'],
    ['an array', '[1,2]'],
    ['an unknown event', '{"event":"Nope","secretField":"do-not-leak"}'],
    ['a missing event', '{"secretField":"do-not-leak"}'],
  ] as const) {
    void it(`'envelope' throws on ${label} without echoing the body`, () => {
      assert.throws(
        () => renderBody('envelope', stored, ID, AT),
        (err: unknown) => err instanceof Error && !err.message.includes('do-not-leak') && /envelope/.test(err.message),
      );
    });
  }
});
