// How evenly two processes on one port share connections: Node's cluster module (the supervisor
// accepts and hands connections out round-robin) against SO_REUSEPORT (each process listens
// itself, the kernel picks one by a hash of the connection's addresses). Each server answers
// with its pid; `connections` keep-alive connections are opened at once and each sends one
// request, so the count per pid is how the connections were spread.
//
//   node loadtests/bench/spread.ts [connections=10,100,1000] [rounds=3]

import { fork } from 'node:child_process';
import cluster from 'node:cluster';
import http from 'node:http';

const mode = process.env.SPREAD_MODE;

if (mode === 'cluster-copy' || mode === 'reuseport-copy') {
  const server = http.createServer((_req, res) => res.end(String(process.pid)));
  const port = Number(process.env.SPREAD_PORT ?? 0);
  server.listen(
    { port, host: '127.0.0.1', ...(mode === 'reuseport-copy' ? { reusePort: true } : {}) },
    () => {
      process.send?.({ port: (server.address() as { port: number }).port });
    },
  );
} else if (mode === 'cluster' && cluster.isPrimary) {
  // Port 0 under cluster: the copies share the one port the supervisor picked.
  for (let i = 0; i < 2; i++) cluster.fork({ SPREAD_MODE: 'cluster-copy' });
  let ready = 0;
  cluster.on('message', (_w, msg: { port: number }) => {
    if (++ready === 2) process.send?.(msg);
  });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  });
} else if (!mode) {
  await main();
}

async function startCluster(): Promise<{ port: number; stop(): void }> {
  const child = fork(import.meta.filename, [], { env: { ...process.env, SPREAD_MODE: 'cluster' } });
  const { port } = await new Promise<{ port: number }>((r) =>
    child.once('message', (m) => r(m as { port: number })),
  );
  return { port, stop: () => child.kill('SIGTERM') };
}

async function startReusePort(): Promise<{ port: number; stop(): void }> {
  const first = fork(import.meta.filename, [], { env: { ...process.env, SPREAD_MODE: 'reuseport-copy' } });
  const { port } = await new Promise<{ port: number }>((r) =>
    first.once('message', (m) => r(m as { port: number })),
  );
  const second = fork(import.meta.filename, [], {
    env: { ...process.env, SPREAD_MODE: 'reuseport-copy', SPREAD_PORT: String(port) },
  });
  await new Promise((r) => second.once('message', r));
  return {
    port,
    stop: () => {
      first.kill();
      second.kill();
    },
  };
}

async function spread(port: number, connections: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const byPid = new Map<string, number>();
  await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<void>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port, agent }, (res) => {
              let body = '';
              res.on('data', (c) => {
                body += c;
              });
              res.on('end', () => {
                byPid.set(body, (byPid.get(body) ?? 0) + 1);
                resolve();
              });
            })
            .on('error', reject);
        }),
    ),
  );
  agent.destroy();
  return [...byPid.values(), 0].slice(0, 2).sort((a, b) => b - a);
}

async function main() {
  const sizes = (process.argv[2] ?? '10,100,1000').split(',').map(Number);
  const rounds = Number(process.argv[3] ?? 3);
  console.log('| way | connections | round | to the busier process | to the other |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (let round = 1; round <= rounds; round++) {
    // Alternated, so the machine's load falls on both alike.
    for (const [way, start] of [
      ['cluster (round-robin)', startCluster],
      ['reusePort (kernel hash)', startReusePort],
    ] as const) {
      const server = await start();
      for (const n of sizes) {
        const [a = 0, b = 0] = await spread(server.port, n);
        console.log(`| ${way} | ${n} | ${round} | ${a} | ${b} |`);
      }
      server.stop();
    }
  }
}
