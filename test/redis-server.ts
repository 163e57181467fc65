// A private, throw-away redis-server for tests that restart Redis (empty) mid-sale: the shared
// server on 6379 is never touched.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, redisServerArgs } from '../loadtests/lib/redis-server.ts';

export type PrivateRedis = {
  url: string;
  port: number;
  restartEmpty(): Promise<void>;
  stop(): Promise<void>;
};

async function waitReady(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      probe.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on ${port} did not start`);
}

/** Until the replica acknowledges a write on the primary ("online" may still be loading). */
async function waitReplicaOnline(primaryPort: number, replicaPort: number): Promise<void> {
  const primary = new Redis({ port: primaryPort, host: '127.0.0.1' });
  try {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      await primary.set('test:replica-probe', String(replicaPort));
      if ((await primary.wait(1, 100)) >= 1) return;
    }
    throw new Error(`replica on ${replicaPort} did not come online for ${primaryPort}`);
  } finally {
    primary.disconnect();
  }
}

/**
 * With `replicaOf` (a private primary's port) the server replicates it; it is ready once it
 * acknowledged a write on the primary (so WAIT 1 there can succeed).
 */
export async function startPrivateRedis(options: { replicaOf?: number } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'redis-'));
  let child: ChildProcess | undefined;
  const start = async () => {
    const args = redisServerArgs(port, dir, options.replicaOf);
    child = spawn('redis-server', args, { stdio: 'ignore' });
    await waitReady(port);
    if (options.replicaOf) await waitReplicaOnline(options.replicaOf, port);
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restartEmpty() {
      await stop();
      await start();
    },
    async stop() {
      await stop();
      // The server wrote nothing worth keeping (no persistence); a CI machine runs this often.
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
