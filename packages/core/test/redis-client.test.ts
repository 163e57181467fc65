import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support.ts';
import { startTcpProxy, type TcpProxy } from '../../../test/tcp-proxy.ts';
import { toAppError } from '../src/errors.ts';
import { connectRedis, type Redis } from '../src/redis/client.ts';
import { connectRedisClient, masters, type RedisClient } from '../src/redis/cluster.ts';

// The request connection corks its socket for the rest of the event-loop turn in which a command
// is sent (docs/adr/0006): the turn's commands reach the kernel in one write.
describe('the request connection (role "command")', () => {
  let env: TestEnv;
  let redis: Redis;
  beforeAll(async () => {
    env = await createTestEnv();
    redis = await connectRedis(env.config.redisUrl, 'command', 'test-coalescing');
  });
  afterAll(async () => {
    redis.disconnect();
    await env.cleanup();
  });

  it("holds one turn's commands back until the turn ends, then answers each on its own, in order", async () => {
    const socket = redis.stream as Socket;
    expect(socket.writableCorked).toBe(0);
    const pending = Promise.all(Array.from({ length: 50 }, (_, i) => redis.echo(`call ${i}`)));
    expect(socket.writableCorked).toBe(1);
    expect(await pending).toEqual(Array.from({ length: 50 }, (_, i) => `call ${i}`));
    expect(socket.writableCorked).toBe(0);

    // The next turn is corked again, and a failing command fails only itself.
    const key = `${env.config.redisKeyPrefix}coalescing:text`;
    const [set, refused, echoed] = await Promise.allSettled([
      redis.set(key, 'not a number'),
      redis.incr(key),
      redis.echo('after'),
    ]);
    expect(set).toEqual({ status: 'fulfilled', value: 'OK' });
    expect(refused.status).toBe('rejected');
    expect(echoed).toEqual({ status: 'fulfilled', value: 'after' });
  });
});

// On a cluster the same holds for each master's request connection, which the cluster client
// opens as it learns the nodes (docs/adr/0006: the cluster's rows of its measurement).
describe.runIf(Boolean(process.env.REDIS_CLUSTER_NODES))(
  'a cluster request connection (role "command")',
  () => {
    let env: TestEnv;
    let cluster: RedisClient;
    beforeAll(async () => {
      env = await createTestEnv();
      cluster = await connectRedisClient(env.config, 'command', 'test-coalescing-cluster');
    });
    afterAll(async () => {
      cluster.disconnect();
      await env.cleanup();
    });

    it("corks the socket of the master serving a turn's commands until the turn ends", async () => {
      const key = (i: number) => `${env.config.redisKeyPrefix}{coalescing}:${i}`;
      await cluster.set(key(0), 'ready'); // the slot's master connection exists and is ready
      const corked = () =>
        masters(cluster).map((node) => (node.stream as Socket | undefined)?.writableCorked ?? 0);
      expect(corked().every((n) => n === 0)).toBe(true);
      const pending = Promise.all(Array.from({ length: 50 }, (_, i) => cluster.get(key(i))));
      expect(corked().filter((n) => n === 1)).toHaveLength(1);
      expect(await pending).toEqual(['ready', ...Array.from({ length: 49 }, () => null)]);
      expect(corked().every((n) => n === 0)).toBe(true);
    });
  },
);

// A Redis that stops answering without closing the connection (a partition dropping packets):
// the request connection's command deadline must reach the caller as UNAVAILABLE (503, retry),
// not as an unknown error answered 500.
describe('the request connection against a Redis that stops answering', () => {
  let env: TestEnv;
  let proxy: TcpProxy;
  let redis: Redis;
  beforeAll(async () => {
    env = await createTestEnv();
    const target = new URL(env.config.redisUrl);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    redis = await connectRedis(`redis://127.0.0.1:${proxy.port}`, 'command', 'test-blackhole');
  });
  afterAll(async () => {
    redis.disconnect();
    await proxy.close();
    await env.cleanup();
  });

  it('gives up at its command deadline with an error that maps to UNAVAILABLE', async () => {
    expect(await redis.ping()).toBe('PONG');
    proxy.blackhole();
    const failure = await redis.ping().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(Error);
    expect(toAppError(failure)?.code).toBe('UNAVAILABLE');
  });
});
