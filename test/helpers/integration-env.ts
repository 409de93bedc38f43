// The shared setup of an integration test file: one private MariaDB with the reference schema, one
// recording receiver, and every bridge process the tests start, all released in after(). Call
// useIntegrationEnv() inside describe(); read src/rx inside hooks and tests (they exist from before()).

import { after, before } from 'node:test';
import { startBridgeProcess, type BridgeProcess, type BridgeProcessOptions } from './bridge-process.js';
import { startReceiver, type Receiver } from '../../demo/receiver.js';
import { startSourceFixture, type SourceFixture } from './source-fixture.js';

export interface IntegrationEnv {
  readonly src: SourceFixture;
  readonly rx: Receiver;
  /** Runs the built CLI as the least-privileged bridge user (by default) with a fresh state dir (by default). */
  startBridge(opts?: Partial<BridgeProcessOptions>): BridgeProcess;
}

export function useIntegrationEnv(): IntegrationEnv {
  let src: SourceFixture | undefined;
  let rx: Receiver | undefined;
  const bridges: BridgeProcess[] = [];
  before(async () => {
    src = await startSourceFixture();
    rx = await startReceiver();
  });
  after(async () => {
    for (const b of bridges) await b.stop();
    await rx?.close();
    await src?.close();
  });
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('integration env used before its before() hook ran');
    return v;
  };
  return {
    get src() {
      return ready(src);
    },
    get rx() {
      return ready(rx);
    },
    startBridge(opts = {}) {
      const s = ready(src);
      const b = startBridgeProcess({ mysqlUrl: s.db.bridgeUrl, stateDir: s.stateDir(), ...opts });
      bridges.push(b);
      return b;
    },
  };
}
