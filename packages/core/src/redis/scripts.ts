import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RedisClient } from './cluster.ts';

/**
 * Loads `scripts/lua/<name>-<numberOfKeys>.lua` and runs them by name with EVALSHA; on NOSCRIPT
 * (after SCRIPT FLUSH or a Redis restart) a call falls back to EVAL, which caches the script
 * again: callers never see it.
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

/** A script as Redis runs it: the digest EVALSHA names it by. */
export type LoadedScript = LuaScript & { sha: string };

export function loadScript(script: LuaScript): LoadedScript {
  return { ...script, sha: createHash('sha1').update(script.lua).digest('hex') };
}

/**
 * The shipped scripts, read once when the process loads this module. They are constants of the
 * build, the same for every connection, so they need no owner: a connection only caches them by
 * digest (SCRIPT LOAD on the first EVAL, see `runScript`). Not ioredis' `defineCommand`: that adds
 * every script as a method to each pipeline ioredis builds, a cost in every hot call's profile
 * while auto-pipelining built one per batch of commands.
 */
const SHIPPED: ReadonlyMap<string, LoadedScript> = new Map(
  readScripts().map((script) => [script.name, loadScript(script)]),
);

/** A shipped script by name (`scripts/lua/<name>-<keys>.lua`). */
export function shippedScript(name: string): LoadedScript {
  const script = SHIPPED.get(name);
  if (!script) throw new Error(`Unknown Lua script ${name}`);
  return script;
}

/** Whether a script call failed only because Redis did not hold the script (so it did not run). */
export function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/**
 * Runs a shipped script (by name) or a loaded one. Typed wrappers in each area's `*.store.ts` call this and decode the
 * raw reply with `decodeReply` (replies.ts: the protocol every script answers in).
 */
export function runScript(
  redis: RedisClient,
  script: string | LoadedScript,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  const { sha, lua, numberOfKeys } = typeof script === 'string' ? shippedScript(script) : script;
  return redis.evalsha(sha, numberOfKeys, ...keys, ...args).catch((err: unknown) => {
    if (!isNoScript(err)) throw err;
    // NOSCRIPT means the script did not run, so sending it again is safe. Plain EVAL carries the
    // source (and caches it again), so it cannot answer NOSCRIPT.
    return redis.eval(lua, numberOfKeys, ...keys, ...args);
  });
}
