import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BridgeError } from '../../src/errors.js';
import { StuckDetector } from '../../src/source/stuck-detector.js';

const AT = { file: 'binlog.000003', pos: 1234 };
const decodeError = new BridgeError('UCW_ERR_SOURCE_STREAM', 'binlog stream failed: cannot decode', {
  retryable: true,
});

void describe('StuckDetector', () => {
  void it('the same error at the same checkpoint 5 times in a row is fatal, with the position', () => {
    const d = new StuckDetector();
    for (let i = 1; i < 5; i++) assert.equal(d.failed(AT, decodeError), undefined, `repeat ${i}`);
    const stuck = d.failed(AT, decodeError);
    assert.equal(stuck?.code, 'UCW_ERR_SOURCE_STUCK');
    assert.equal(stuck?.retryable, false);
    assert.deepEqual(stuck?.details, { position: 'binlog.000003:1234', repeated: 'UCW_ERR_SOURCE_STREAM' });
    assert.match(stuck?.message ?? '', /5 times in a row from checkpoint binlog\.000003:1234 .*cannot decode/);
  });

  void it('progress, another error, or a failure before streaming starts the count over', () => {
    const d = new StuckDetector();
    const four = (): void => {
      for (let i = 0; i < 4; i++) assert.equal(d.failed(AT, decodeError), undefined);
    };
    four();
    assert.equal(d.failed({ ...AT, pos: 2000 }, decodeError), undefined, 'the checkpoint moved');
    four();
    assert.equal(
      d.failed(AT, new BridgeError('UCW_ERR_SOURCE_QUERY', 'lookup failed', { retryable: true })),
      undefined,
      'another error',
    );
    four();
    d.other();
    four();
    assert.equal(d.failed(AT, decodeError)?.code, 'UCW_ERR_SOURCE_STUCK');
  });
});
