import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createSigner } from '../../src/delivery/signing.js';
import { BridgeError } from '../../src/errors.js';

const hmac = (key: Buffer, content: string): string => createHmac('sha256', key).update(content).digest('base64');

void describe('createSigner', () => {
  void it('returns undefined when no secret is configured', () => {
    assert.equal(createSigner([]), undefined);
  });

  void it('reproduces the Standard Webhooks specification test vector', () => {
    const signer = createSigner(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw']);
    assert.ok(signer);
    assert.equal(
      signer.sign('msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'),
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  void it('signs "<id>.<timestamp>.<body>" with the base64-decoded key of a whsec_ secret', () => {
    const key = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
    const signer = createSigner([`whsec_${key.toString('base64')}`]);
    const body = '{"event":"AgentLog","date":"2026-03-02 14:05:09","agent":"ana","isLogin":true}';
    assert.equal(signer?.sign('0b8f-id', 1772460309, body), `v1,${hmac(key, `0b8f-id.1772460309.${body}`)}`);
  });

  void it('uses the UTF-8 bytes of a secret without the whsec_ prefix', () => {
    const signer = createSigner(['plain-sécret']);
    assert.equal(signer?.sign('id', 1, '{}'), `v1,${hmac(Buffer.from('plain-sécret', 'utf8'), 'id.1.{}')}`);
  });

  void it('accepts unpadded base64 and treats it like the padded form', () => {
    const padded = createSigner(['whsec_c2VjcmV0LWtleQ==']);
    const unpadded = createSigner(['whsec_c2VjcmV0LWtleQ']);
    assert.equal(unpadded?.sign('a', 2, 'b'), padded?.sign('a', 2, 'b'));
    assert.equal(padded?.sign('a', 2, 'b'), `v1,${hmac(Buffer.from('secret-key'), 'a.2.b')}`);
  });

  void it('emits one space-separated v1 entry per secret, in configuration order (key rotation)', () => {
    const signer = createSigner(['whsec_c2VjcmV0LWtleQ==', 'second']);
    const parts = signer?.sign('id', 10, 'x').split(' ');
    assert.deepEqual(parts, [
      `v1,${hmac(Buffer.from('secret-key'), 'id.10.x')}`,
      `v1,${hmac(Buffer.from('second'), 'id.10.x')}`,
    ]);
  });

  void it('covers the body exactly: a one-byte change changes the signature', () => {
    const signer = createSigner(['k']);
    assert.notEqual(signer?.sign('id', 1, '{"a":1}'), signer?.sign('id', 1, '{"a":2}'));
    assert.notEqual(signer?.sign('id', 1, '{}'), signer?.sign('id', 2, '{}'));
  });

  void it('rejects an empty secret with a config error and a hint', () => {
    assert.throws(
      () => createSigner(['ok', '']),
      (err: unknown) =>
        err instanceof BridgeError &&
        err.code === 'UCW_ERR_CONFIG_INVALID' &&
        /#2/.test(err.message) &&
        err.hint !== undefined,
    );
  });

  for (const bad of [
    'whsec_',
    'whsec_not base64!',
    'whsec_abc*def',
    'whsec_QUJDRUZHS',
    'whsec_QUJD=RUZH',
    'whsec_QUJDRUZ=====',
  ]) {
    void it(`rejects invalid base64 after whsec_ without echoing the secret (${JSON.stringify(bad)})`, () => {
      assert.throws(
        () => createSigner([bad]),
        (err: unknown) => {
          assert.ok(err instanceof BridgeError);
          assert.equal(err.code, 'UCW_ERR_CONFIG_INVALID');
          assert.ok(err.hint);
          const rest = bad.slice('whsec_'.length);
          if (rest.length > 0) {
            assert.ok(!err.message.includes(rest), 'message must not contain the secret');
            assert.ok(!err.hint.includes(rest), 'hint must not contain the secret');
          }
          return true;
        },
      );
    });
  }
});
