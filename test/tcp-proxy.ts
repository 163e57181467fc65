// A TCP proxy in front of Postgres or Redis that a test can cut and restore: the way to make a
// backing store "go down" for one test without stopping the machine's shared server.
import net from 'node:net';

export type TcpProxy = {
  port: number;
  /** Drops every open connection and refuses new ones until `restore()`: a stopped server. */
  cut(): void;
  /**
   * Keeps every connection open but forwards nothing either way, and accepts new connections
   * without ever answering them, until `restore()`: a partition that drops packets, or a frozen
   * host. The peer is never told (no FIN, no RST).
   */
  blackhole(): void;
  /** Open client connections that sent bytes into the blackhole (they wait for an answer). */
  stuck(): number;
  /** Back to forwarding; connections that lived through a blackhole are closed (their streams lost bytes). */
  restore(): void;
  close(): Promise<void>;
};

type Pair = { client: net.Socket; upstream?: net.Socket; sentIntoHole: boolean; holed: boolean };

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'up' | 'down' | 'blackhole' = 'up';
  const pairs = new Set<Pair>();

  /** Stops forwarding a pair; what arrives afterwards is read and thrown away. */
  const hole = (pair: Pair) => {
    if (pair.holed) return;
    pair.holed = true;
    pair.client.unpipe();
    pair.upstream?.unpipe();
    // Reading on keeps the sockets flowing, so a peer's close is still seen.
    pair.client
      .on('data', () => {
        pair.sentIntoHole = true;
      })
      .resume();
    pair.upstream?.on('data', () => {}).resume();
  };

  const server = net.createServer((client) => {
    if (mode === 'down') {
      client.destroy();
      return;
    }
    const pair: Pair = { client, sentIntoHole: false, holed: false };
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      pair.upstream?.destroy();
      pairs.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    if (mode === 'blackhole') {
      hole(pair);
      return;
    }
    const upstream = net.connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const destroyAll = (which: (pair: Pair) => boolean) => {
    for (const pair of pairs) {
      if (!which(pair)) continue;
      pair.client.destroy();
      pair.upstream?.destroy();
      pairs.delete(pair);
    }
  };
  const cut = () => {
    mode = 'down';
    destroyAll(() => true);
  };
  return {
    port,
    cut,
    blackhole() {
      mode = 'blackhole';
      for (const pair of pairs) hole(pair);
    },
    stuck: () => [...pairs].filter((p) => p.sentIntoHole).length,
    restore() {
      mode = 'up';
      destroyAll((pair) => pair.holed);
    },
    close() {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
