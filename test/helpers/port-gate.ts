// A port that stays taken for the whole test: no other process can get it, so "nothing listens
// there" never turns into "something else answers there". Until forwardTo() it resets every
// connection (a receiver or server that is down); after, it relays each new connection to a real
// server on 127.0.0.1 (the same one, back up, at the same address).

import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface PortGate {
  readonly port: number;
  /** From now on, new connections are relayed to 127.0.0.1:`port`. */
  forwardTo(port: number): void;
  close(): Promise<void>;
}

export async function startPortGate(): Promise<PortGate> {
  let target: number | undefined;
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const server = net.createServer((client) => {
    if (target === undefined) {
      client.resetAndDestroy();
      return;
    }
    track(client);
    const upstream = net.connect(target, '127.0.0.1');
    track(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    forwardTo(port) {
      target = port;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
