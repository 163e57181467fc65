import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import path from 'node:path';
import { base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

const root = path.resolve(import.meta.dirname, '../../..');
const nowS = () => Math.floor(Date.now() / 1000);
const HOUR = 3600;

/**
 * AUTH_MAX_TOKEN_TTL bounds a token's lifetime (`exp − iat`) on every path that verifies one:
 * tRPC procedures, the fast mutations (coupon.issue as a single call skips tRPC's middleware),
 * a batch, and the queue dashboard.
 */
describe('AUTH_MAX_TOKEN_TTL', () => {
  let s: TestServer;
  let couponId: number;
  const sign = (claims: Record<string, unknown>) => {
    const body = `${base64url.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url.encode(JSON.stringify(claims))}`;
    return `${body}.${createHmac('sha256', s.config.jwtSecret).update(body).digest('base64url')}`;
  };

  beforeAll(async () => {
    s = await createTestServer({ overrides: { AUTH_MAX_TOKEN_TTL: '2h' } });
    const admin = sign({ sub: '1', role: 'admin', exp: nowS() + 60 });
    const created = await call(
      s.app,
      'mutation',
      'admin.coupon.create',
      { name: 'c', discount: { type: 'FIXED', value: 100 }, totalQuantity: 1_000 },
      admin,
    );
    couponId = created.body.result.data.couponId;
  });
  afterAll(() => s.cleanup());

  const paths = {
    'a tRPC query': (token: string) => call(s.app, 'query', 'balance.get', undefined, token),
    'coupon.issue (fast path)': (token: string) =>
      call(s.app, 'mutation', 'coupon.issue', { couponId }, token),
    'coupon.issue in a batch (tRPC path)': async (token: string) => {
      const res = await s.app.inject({
        method: 'POST',
        url: '/trpc/coupon.issue?batch=1',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ 0: { couponId } }),
      });
      const [only] = res.json();
      return { status: res.statusCode, body: only };
    },
  };

  // A user id per call, so an accepted coupon.issue is never answered "already issued".
  let nextUser = 100;
  const sub = () => String(nextUser++);

  for (const [name, send] of Object.entries(paths)) {
    it(`${name}: refuses a token that lives longer than the maximum, accepts one within it`, async () => {
      const t = nowS();
      const tooLong = await send(sign({ sub: sub(), iat: t, exp: t + 2 * HOUR + 1 }));
      expect(tooLong.status).toBe(401);
      expect(tooLong.body.error.data).toMatchObject({ appCode: 'UNAUTHORIZED' });
      // A token issued long ago with a far expiry is refused even though its remaining life is short.
      const oldAndLong = await send(sign({ sub: sub(), iat: t - 1000 * 24 * HOUR, exp: t + 60 }));
      expect(oldAndLong.status).toBe(401);
      // Without iat it counts as issued now.
      expect((await send(sign({ sub: sub(), exp: t + 3 * HOUR }))).status).toBe(401);

      expect((await send(sign({ sub: sub(), iat: t, exp: t + 2 * HOUR }))).status).toBe(200);
      expect((await send(sign({ sub: sub(), exp: t + HOUR }))).status).toBe(200);
    });
  }

  it('the queue dashboard refuses a long-lived admin token too', async () => {
    const t = nowS();
    const res = await s.app.inject({
      method: 'GET',
      url: '/admin/queues',
      headers: { authorization: `Bearer ${sign({ sub: '1', role: 'admin', iat: t, exp: t + 3 * HOUR })}` },
    });
    expect(res.statusCode).toBe(401);
  });
});

/** Runs `pnpm run token`'s script and returns its exit code and output. */
function runToken(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'scripts/token.ts'), ...args], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('pnpm run token', () => {
  it('refuses a bad argument with one line and exit code 2', async () => {
    const bad = [
      ['42', '--expires', 'banana'],
      ['42', '--expires'],
      ['42', '--expires', '--admin'],
      ['42', '--bogus'],
      ['42', '43'],
      [],
      ['abc'],
      ['42', '--expires', '48h'],
    ];
    // Two at a time: each run starts a Node process that loads the TypeScript sources, and the
    // machine is shared with the rest of the suite.
    const results: Awaited<ReturnType<typeof runToken>>[] = [];
    for (let i = 0; i < bad.length; i += 2) {
      results.push(...(await Promise.all(bad.slice(i, i + 2).map((args) => runToken(args)))));
    }
    results.forEach(({ code, stdout, stderr }, i) => {
      const what = JSON.stringify(bad[i]);
      expect(code, what).toBe(2);
      expect(stdout, what).toBe('');
      expect(stderr.trimEnd().split('\n'), what).toHaveLength(1);
      expect(stderr, what).toMatch(/^pnpm run token: .*usage: pnpm run token <userId>/);
    });
  }, 180_000);

  it('prints one token that lives as long as asked', async () => {
    const { code, stdout } = await runToken(['42', '--admin', '--expires', '90m']);
    expect(code).toBe(0);
    const claims = JSON.parse(Buffer.from(stdout.trim().split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({ sub: '42', role: 'admin' });
    expect(claims.exp - claims.iat).toBe(90 * 60);
  });
});
