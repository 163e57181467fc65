import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis } from '../../../test/redis-server.ts';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { QueueName } from '../src/queue/queues.ts';
import { loadScript, readScripts, runScript } from '../src/redis/scripts.ts';

describe('Lua script loader', () => {
  let env: TestRuntime;
  let dir: string;
  beforeAll(async () => {
    env = await createTestRuntime();
    dir = mkdtempSync(path.join(tmpdir(), 'lua-'));
    writeFileSync(path.join(dir, 'incrBy-1.lua'), "return redis.call('INCRBY', KEYS[1], ARGV[1])\n");
  });
  afterAll(() => env.cleanup());

  it('reads name and key count from the file name', () => {
    expect(readScripts(dir)).toEqual([
      { name: 'incrBy', numberOfKeys: 1, lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])\n" },
    ]);
  });

  it('refuses a script whose file name does not say how many keys it takes', () => {
    const bad = mkdtempSync(path.join(tmpdir(), 'lua-'));
    writeFileSync(path.join(bad, 'noKeys.lua'), 'return 1');
    expect(() => readScripts(bad)).toThrow(/must be named <name>-<numberOfKeys>\.lua/);
  });

  it('pastes `--!include` files in, and refuses includes outside the folder or nested ones', () => {
    const withLib = mkdtempSync(path.join(tmpdir(), 'lua-'));
    mkdirSync(path.join(withLib, 'lib'));
    writeFileSync(path.join(withLib, 'lib', 'twice.lua'), 'local function twice(x) return 2 * x end\n');
    writeFileSync(path.join(withLib, 'double-0.lua'), '--!include lib/twice.lua\nreturn twice(ARGV[1])\n');
    expect(readScripts(withLib)).toEqual([
      {
        name: 'double',
        numberOfKeys: 0,
        lua: 'local function twice(x) return 2 * x end\n\nreturn twice(ARGV[1])\n',
      },
    ]);

    const outside = mkdtempSync(path.join(tmpdir(), 'lua-'));
    writeFileSync(path.join(outside, 'escape-0.lua'), '--!include ../elsewhere.lua\nreturn 1\n');
    expect(() => readScripts(outside)).toThrow(/outside/);

    const nested = mkdtempSync(path.join(tmpdir(), 'lua-'));
    mkdirSync(path.join(nested, 'lib'));
    writeFileSync(path.join(nested, 'lib', 'a.lua'), '--!include lib/b.lua\n');
    writeFileSync(path.join(nested, 'n-0.lua'), '--!include lib/a.lua\nreturn 1\n');
    expect(() => readScripts(nested)).toThrow(/includes again/);
  });

  it('the shipped scripts include only what exists: every one of them loads and compiles in Redis', async () => {
    const scripts = readScripts();
    expect(scripts.find((s) => s.name === 'issueCoupon')?.lua).toContain('local function gcra_check');
    for (const script of scripts) {
      expect(script.lua).not.toMatch(/^--!include/m);
      // SCRIPT LOAD compiles without running: a syntax error in any script fails here.
      expect(await env.rt.redis.script('LOAD', script.lua)).toMatch(/^[0-9a-f]{40}$/);
    }
  });

  it('leaves the request connection without ioredis-defined commands, queues included', async () => {
    // ioredis copies every command defined on a connection onto each pipeline or transaction it
    // builds: our scripts run through EVALSHA and BullMQ (which defines ~60 of its own) gets a
    // connection of its own.
    const { redis, queues, keys } = env.rt;
    expect(await runScript(redis, 'restock', [keys.stock(1).available], [1])).toBeDefined();
    const job = await queues[QueueName.Maintenance].add('noop', {}, { delay: 60_000 });
    await job.remove();
    expect(Object.keys((redis as unknown as { scriptsSet: object }).scriptsSet)).toEqual([]);
  });

  it('keeps working after SCRIPT FLUSH', async () => {
    // A private redis-server: SCRIPT FLUSH on the shared one would pull the scripts from under
    // every other test file running beside this one.
    const server = await startPrivateRedis();
    const redis = new Redis(server.url);
    try {
      const key = 'loader:counter';
      const incrBy = loadScript(readScripts(dir)[0]!);
      const sha = createHash('sha1').update(incrBy.lua).digest('hex');
      expect(incrBy.sha).toBe(sha);
      expect(await runScript(redis, incrBy, [key], [2])).toBe(2);
      expect(await redis.script('EXISTS', sha)).toEqual([1]);
      await redis.script('FLUSH');
      expect(await redis.script('EXISTS', sha)).toEqual([0]);
      expect(await runScript(redis, incrBy, [key], [3])).toBe(5);
      // The fallback put it back in the cache: the next call runs it by its sha again.
      expect(await redis.script('EXISTS', sha)).toEqual([1]);
      expect(await runScript(redis, incrBy, [key], [1])).toBe(6);
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});
