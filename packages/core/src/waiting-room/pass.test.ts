import { describe, expect, it } from 'vitest';
import { MAX_PASS_LENGTH, readPass, signPass } from './pass.ts';

const SECRET = 's'.repeat(40);
const NOW = 1_800_000_000_000;
const claims = { roomId: 3, userId: 42, ticket: 17, expiresAtMs: NOW + 60_000 };

describe('waiting-room passes', () => {
  it('reads back what was signed, until it expires', () => {
    const pass = signPass(SECRET, claims);
    expect(pass.length).toBeLessThanOrEqual(MAX_PASS_LENGTH);
    expect(readPass(SECRET, pass, NOW)).toEqual({ ok: true, claims });
    expect(readPass(SECRET, pass, NOW + 59_999).ok).toBe(true);
    expect(readPass(SECRET, pass, NOW + 60_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a pass whose fields or signature were changed, or signed with another key', () => {
    const pass = signPass(SECRET, claims);
    const [room, user, ticket, exp, sig] = pass.split('.') as [string, string, string, string, string];
    for (const forged of [
      [room, '43', ticket, exp, sig],
      ['4', user, ticket, exp, sig],
      [room, user, '1', exp, sig],
      [room, user, ticket, String(NOW + 9e9), sig],
      [room, user, ticket, exp, `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`],
    ]) {
      expect(readPass(SECRET, forged.join('.'), NOW)).toEqual({ ok: false, reason: 'forged' });
    }
    expect(readPass('t'.repeat(40), pass, NOW)).toEqual({ ok: false, reason: 'forged' });
  });

  it('answers any header, however long or strange, without throwing', () => {
    expect(readPass(SECRET, undefined, NOW)).toEqual({ ok: false, reason: 'missing' });
    expect(readPass(SECRET, '', NOW)).toEqual({ ok: false, reason: 'missing' });
    const pass = signPass(SECRET, claims);
    for (const bad of [
      'x'.repeat(100_000),
      `${pass} `,
      `${pass}, ${pass}`,
      pass.replaceAll('.', ':'),
      '1.2.3.4.5',
      '\u0000'.repeat(10),
      `${'9'.repeat(17)}.1.1.1.${'a'.repeat(43)}`,
      '💥'.repeat(50),
    ]) {
      expect(readPass(SECRET, bad, NOW)).toEqual({ ok: false, reason: 'malformed' });
    }
  });
});
