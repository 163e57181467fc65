import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeReply, ReplyCode, type ReplyCodeName, SCRIPT_REPLIES, type ScriptName } from './replies.ts';
import { LUA_DIR } from './scripts.ts';

const NAMES = Object.keys(ReplyCode) as ReplyCodeName[];

describe('decodeReply', () => {
  it('decodes the codes without a payload, bare or in an array, to one shared object each', () => {
    const bare: [ScriptName, ReplyCodeName][] = [
      ['issueCoupon', 'OK'],
      ['issueCoupon', 'NOT_LOADED'],
      ['issueCoupon', 'NOT_ACTIVE'],
      ['issueCoupon', 'ALREADY_ISSUED'],
      ['issueCoupon', 'SOLD_OUT'],
      ['loadStock', 'ALREADY_LOADED'],
      ['releaseHold', 'NO_HOLD'],
    ];
    for (const [script, name] of bare) {
      const code = ReplyCode[name];
      expect(decodeReply(script, code)).toEqual({ code: name });
      expect(decodeReply(script, [code])).toEqual({ code: name });
      // The hot path's replies allocate nothing to decode: the same frozen object every time.
      expect(decodeReply(script, code)).toBe(decodeReply(script, code));
      expect(Object.isFrozen(decodeReply(script, code))).toBe(true);
    }
  });

  it('decodes RATE_LIMITED with its wait and which limit refused', () => {
    expect(decodeReply('issueCoupon', [3, 100, 1])).toEqual({
      code: 'RATE_LIMITED',
      retryAfterMs: 100,
      limit: 'user',
    });
    expect(decodeReply('holdStock', [3, 0, 2])).toEqual({
      code: 'RATE_LIMITED',
      retryAfterMs: 0,
      limit: 'ip',
    });
    expect(decodeReply('rateLimit', [3, 40, 2])).toEqual({
      code: 'RATE_LIMITED',
      retryAfterMs: 40,
      limit: 'ip',
    });
  });

  it('decodes OUT_OF_STOCK with the product', () => {
    expect(decodeReply('holdStock', [7, 12])).toEqual({ code: 'OUT_OF_STOCK', productId: 12 });
  });

  it("decodes OK and ALREADY_LOADED with the script's value", () => {
    expect(decodeReply('restock', [0, 8])).toEqual({ code: 'OK', value: 8 });
    expect(decodeReply('restoreCoupon', [0, 2])).toEqual({ code: 'OK', value: 2 });
    expect(decodeReply('restoreCoupon', [2, 5])).toEqual({ code: 'ALREADY_LOADED', value: 5 });
    expect(decodeReply('couponAckPending', [0, 0])).toEqual({ code: 'OK', value: 0 });
    expect(decodeReply('issueCoupon', [0, '1700000000000-0'])).toEqual({
      code: 'OK',
      value: '1700000000000-0',
    });
    expect(decodeReply('revokeIssuance', [0, 1])).toEqual({ code: 'OK', value: 1 });
    expect(decodeReply('rankingTop', [0, '{"at":1,"items":[]}'])).toEqual({
      code: 'OK',
      value: '{"at":1,"items":[]}',
    });
    expect(decodeReply('forgetIdleProduct', [0, 1])).toEqual({ code: 'OK', value: 1 });
  });

  it('covers every code', () => {
    const answered = new Set(Object.values(SCRIPT_REPLIES).flatMap((spec) => spec.codes));
    expect([...answered].sort()).toEqual([...NAMES].sort());
  });

  it('refuses an unknown code with an error that names the script and its codes', () => {
    expect(() => decodeReply('issueCoupon', 42)).toThrow(
      'Lua script issueCoupon replied 42: not a reply code (it answers OK, NOT_LOADED, RATE_LIMITED, NOT_ACTIVE, ALREADY_ISSUED, SOLD_OUT)',
    );
    expect(() => decodeReply('issueCoupon', [-1, 0])).toThrow(
      /issueCoupon replied \[-1,0\]: not a reply code/,
    );
    expect(() => decodeReply('rateLimit', 1.5)).toThrow(/not a reply code/);
    expect(() => decodeReply('rateLimit', 'OK')).toThrow(/not a reply code/);
    expect(() => decodeReply('rateLimit', null)).toThrow(/not a reply code/);
    expect(() => decodeReply('rateLimit', [])).toThrow(/not a reply code/);
  });

  it("refuses a known code that the script does not answer (another script's reply)", () => {
    expect(() => decodeReply('rateLimit', ReplyCode.SOLD_OUT)).toThrow(
      /rateLimit replied 6: SOLD_OUT is not one of its codes \(it answers OK, RATE_LIMITED\)/,
    );
    expect(() => decodeReply('holdStock', [ReplyCode.NO_HOLD])).toThrow(/NO_HOLD is not one of its codes/);
  });

  it('refuses a payload that does not fit its code', () => {
    expect(() => decodeReply('issueCoupon', [3, 100])).toThrow(/expected retryAfterMs and which limit/);
    expect(() => decodeReply('issueCoupon', [3, 100, 3])).toThrow(/expected retryAfterMs and which limit/);
    expect(() => decodeReply('issueCoupon', [3, '100', 1])).toThrow(/expected retryAfterMs and which limit/);
    expect(() => decodeReply('holdStock', [7])).toThrow(/expected a productId/);
    expect(() => decodeReply('restock', 0)).toThrow(/expected a value of kind integer/);
    expect(() => decodeReply('rankingTop', [0, 5])).toThrow(/expected a value of kind string/);
    expect(() => decodeReply('issueCoupon', [0, 1])).toThrow(/expected a value of kind string\?/);
    expect(() => decodeReply('couponAckPending', [0])).toThrow(/expected a value of kind integer/);
  });

  it('refuses a script it has no entry for', () => {
    expect(() => decodeReply('nope' as ScriptName, 0)).toThrow(/nope replied 0: no such script/);
  });
});

describe('the scripts in scripts/lua speak this protocol', () => {
  const files = readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua'));
  const codeName = new RegExp(`\\b(${NAMES.join('|')})\\b`, 'g');

  it('lib/reply.lua numbers the codes as ReplyCode does', () => {
    const lua = readFileSync(path.join(LUA_DIR, 'lib', 'reply.lua'), 'utf8');
    const table = Object.fromEntries(
      [...lua.matchAll(/^local (\w+) = (\d+)$/gm)].map((m) => [m[1], Number(m[2])]),
    );
    expect(table).toEqual(ReplyCode);
  });

  it('every script has an entry in SCRIPT_REPLIES, and every entry a script', () => {
    expect(files.map((f) => f.replace(/-\d+\.lua$/, '')).sort()).toEqual(Object.keys(SCRIPT_REPLIES).sort());
  });

  for (const file of files) {
    const script = file.replace(/-\d+\.lua$/, '') as ScriptName;
    it(`${file} includes lib/reply.lua, and its header and body name exactly its codes`, () => {
      const lua = readFileSync(path.join(LUA_DIR, file), 'utf8');
      const end = lua.indexOf(']]');
      const header = lua.slice(0, end);
      const body = lua.slice(end);
      const codes = [...(SCRIPT_REPLIES[script]?.codes ?? [])].sort();
      expect(body).toMatch(/^--!include lib\/reply\.lua$/m);
      expect([...new Set(header.match(codeName))].sort()).toEqual(codes);
      expect([...new Set(body.match(codeName))].sort()).toEqual(codes);
    });
  }
});
