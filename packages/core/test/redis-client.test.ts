import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support.ts';
import { connectRedis, type Redis } from '../src/redis/client.ts';

type Writes = { calls: number; chunks: number };

/** Counts what the socket hands to the kernel: one `_write` or `_writev` is one system call. */
function countWrites(socket: Socket): Writes {
  const counted: Writes = { calls: 0, chunks: 0 };
  const raw = socket as unknown as {
    _write: (...args: unknown[]) => void;
    _writev: (chunks: unknown[], ...rest: unknown[]) => void;
  };
  const write = raw._write;
  const writev = raw._writev;
  raw._write = function (...args) {
    counted.calls++;
    counted.chunks++;
    return write.apply(this, args);
  };
  raw._writev = function (chunks, ...rest) {
    counted.calls++;
    counted.chunks += chunks.length;
    return writev.call(this, chunks, ...rest);
  };
  return counted;
}

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

  it('sends the commands of one event-loop turn in one write, each answered on its own, in order', async () => {
    const writes = countWrites(redis.stream as Socket);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => redis.echo(`call ${i}`)));
    expect(answers).toEqual(Array.from({ length: 50 }, (_, i) => `call ${i}`));
    expect(writes).toEqual({ calls: 1, chunks: 50 });

    // The next turn is a write of its own, and a failing command fails only itself.
    const key = `${env.config.redisKeyPrefix}coalescing:text`;
    const [set, refused, echoed] = await Promise.allSettled([
      redis.set(key, 'not a number'),
      redis.incr(key),
      redis.echo('after'),
    ]);
    expect(set).toEqual({ status: 'fulfilled', value: 'OK' });
    expect(refused.status).toBe('rejected');
    expect(echoed).toEqual({ status: 'fulfilled', value: 'after' });
    expect(writes).toEqual({ calls: 2, chunks: 53 });
  });

  it('leaves nothing held back: the socket is uncorked once the turn is over', async () => {
    await redis.ping();
    await new Promise((resolve) => setImmediate(resolve));
    expect((redis.stream as Socket).writableCorked).toBe(0);
  });
});
