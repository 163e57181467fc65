import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support.ts';
import { connectRedis, type Redis } from '../src/redis/client.ts';

/** Counts the writes the connection hands its socket (`Writable.write` calls). */
function countWrites(socket: Socket): { calls: number } {
  const counted = { calls: 0 };
  const write = socket.write;
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    counted.calls++;
    return write.apply(this, args);
  } as Socket['write'];
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
    expect(writes.calls).toBe(1);

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
    expect(writes.calls).toBe(2);
  });
});
