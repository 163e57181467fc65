import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { readScripts, registerScripts, runScript } from '../src/redis/scripts.ts';

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

  it('keeps working after SCRIPT FLUSH', async () => {
    const { redis, keys } = env.rt;
    const key = `${keys.prefix}loader:counter`;
    registerScripts(redis, readScripts(dir));
    expect(await runScript(redis, 'incrBy', [key], [2])).toBe(2);
    await redis.script('FLUSH');
    expect(await redis.script('EXISTS', '0000000000000000000000000000000000000000')).toEqual([0]);
    expect(await runScript(redis, 'incrBy', [key], [3])).toBe(5);
    // And again, now that EVAL has put it back in the cache.
    expect(await runScript(redis, 'incrBy', [key], [1])).toBe(6);
  });
});
