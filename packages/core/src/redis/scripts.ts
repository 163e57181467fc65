import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';

/**
 * Loads `scripts/lua/<name>-<numberOfKeys>.lua` and registers each on a connection with
 * ioredis' `defineCommand`, which calls EVALSHA and, on NOSCRIPT (after SCRIPT FLUSH or a
 * Redis restart), falls back to EVAL so the script is cached again: callers never see it.
 */
export const LUA_DIR = path.resolve(import.meta.dirname, '../../../../scripts/lua');

export type LuaScript = { name: string; numberOfKeys: number; lua: string };

const FILE_NAME = /^([A-Za-z][A-Za-z0-9]*)-(\d+)\.lua$/;
/** `--!include lib/x.lua` on a line of its own: replaced by that file (relative to the script folder). */
const INCLUDE = /^--!include (\S+)[ \t]*$/gm;

/**
 * Shared Lua (a rule several scripts apply, like the rate limit's) lives in `lib/` and is pasted
 * in where a script says `--!include`; Redis only ever sees whole scripts. Included files
 * cannot include further files.
 */
function expandIncludes(lua: string, dir: string, file: string): string {
  return lua.replace(INCLUDE, (_line, included: string) => {
    const target = path.resolve(dir, included);
    if (!target.startsWith(`${path.resolve(dir)}${path.sep}`)) {
      throw new Error(`Lua script ${file} includes ${included}, outside ${dir}`);
    }
    const body = readFileSync(target, 'utf8');
    if (/^--!include /m.test(body)) throw new Error(`Lua include ${included} (from ${file}) includes again`);
    return body;
  });
}

export function readScripts(dir: string = LUA_DIR): LuaScript[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .map((file) => {
      const match = FILE_NAME.exec(file);
      if (!match) throw new Error(`Lua script ${file} must be named <name>-<numberOfKeys>.lua`);
      return {
        name: match[1]!,
        numberOfKeys: Number(match[2]),
        lua: expandIncludes(readFileSync(path.join(dir, file), 'utf8'), dir, file),
      };
    });
}

let defaultScripts: LuaScript[] | undefined;
const registered = new WeakMap<Redis, Map<string, LuaScript>>();

/** Registers scripts on a connection once; safe to call on every use. */
export function registerScripts(redis: Redis, scripts?: LuaScript[]): void {
  if (!scripts) {
    defaultScripts ??= readScripts();
    scripts = defaultScripts;
  }
  let names = registered.get(redis);
  if (!names) {
    names = new Map();
    registered.set(redis, names);
  }
  for (const script of scripts) {
    if (names.has(script.name)) continue;
    redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
    names.set(script.name, script);
  }
}

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Runs a registered script. Typed wrappers in each area's `*.store.ts` call this and turn the
 * raw reply into a typed result.
 */
export function runScript(
  redis: Redis,
  name: string,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  if (!registered.get(redis)?.has(name)) registerScripts(redis);
  const fn = (redis as unknown as Record<string, ScriptFn | undefined>)[name];
  if (typeof fn !== 'function') throw new Error(`Unknown Lua script ${name}`);
  return fn.call(redis, ...keys, ...args).catch((err: unknown) => {
    const script = registered.get(redis)?.get(name);
    if (!script || !(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    // NOSCRIPT means the script did not run, so sending it again is safe. ioredis already resent
    // it once, but as EVALSHA again when another call had reloaded the script on this connection
    // meanwhile, so a second SCRIPT FLUSH (or a failover) in that window lands here. Plain EVAL
    // carries the source and cannot answer NOSCRIPT.
    return redis.eval(script.lua, script.numberOfKeys, ...keys, ...args);
  });
}
