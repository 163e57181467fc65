import net from 'node:net';
import { scrubUrl, signToken } from '@flash/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, startApi } from '../../../test/processes.ts';
import { createTestEnv, type TestEnv } from '../../../test/support.ts';

/** The signature part of a JWT: the secret-derived piece that must never be written down. */
const signatureOf = (token: string) => token.split('.')[2]!;

/**
 * Every way a credential reaches the API (the dashboard's browser sign-in with `?token=`, its
 * cookie, a bearer header on the dashboard and on tRPC, refused tokens, a request too large for
 * Node's parser), run against the real process at the most verbose level; then everything it
 * wrote, and what /metrics exposes, is searched for the tokens' signatures.
 */
describe('no credential reaches a log line or a metric', () => {
  let env: TestEnv;
  let api: (Child & { url: string }) | undefined;

  beforeAll(async () => {
    env = await createTestEnv({ LOG_LEVEL: 'trace' });
    api = await startApi(env.childEnv);
  });
  afterAll(async () => {
    await api?.kill();
    await env.cleanup();
  });

  it('the admin sign-in flow, bearer calls and refused tokens leave no token in the output', async () => {
    const { url } = api!;
    const admin = await signToken(env.config.jwtSecret, 1, { admin: true });
    const user = await signToken(env.config.jwtSecret, 2);
    const forged = await signToken('x'.repeat(40), 1, { admin: true });
    const secrets = [admin, user, forged];

    const signIn = await fetch(`${url}/admin/queues?token=${admin}`, { redirect: 'manual' });
    expect(signIn.status).toBe(303);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(`${url}/admin/queues`, { headers: { cookie } })).status).toBe(200);
    // The page itself (its API asks Redis for every queue, which a busy machine may not answer in time).
    expect(
      (await fetch(`${url}/admin/queues`, { headers: { authorization: `Bearer ${admin}` } })).status,
    ).toBe(200);
    expect((await fetch(`${url}/admin/queues?token=${user}`, { redirect: 'manual' })).status).toBe(403);
    expect((await fetch(`${url}/admin/queues?access_token=${forged}&token=${forged}`)).status).toBe(401);
    expect(
      (await fetch(`${url}/trpc/balance.get`, { headers: { authorization: `Bearer ${user}` } })).status,
    ).toBe(200);
    expect(
      (await fetch(`${url}/trpc/balance.get`, { headers: { authorization: `Bearer ${forged}` } })).status,
    ).toBe(401);
    // A token in a path or in a tRPC input is scrubbed too.
    expect((await fetch(`${url}/trpc/${admin}`)).status).toBeGreaterThanOrEqual(400);
    await fetch(`${url}/trpc/product.list?input=${encodeURIComponent(JSON.stringify({ token: user }))}`);
    // Headers past Node's limit: the parser's error carries the raw request bytes.
    const status = await rawRequest(
      url,
      `GET /admin/queues?token=${admin} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(status).toBe('431');

    const metrics = await (await fetch(`${url}/metrics`)).text();
    await api!.kill('SIGTERM');
    const output = api!.output();

    // The flow was logged (so the search below looks at real request lines), without the secret.
    expect(output).toContain('"method":"GET","path":"/admin/queues","status":303');
    for (const token of secrets) {
      expect(output).not.toContain(signatureOf(token));
      expect(metrics).not.toContain(signatureOf(token));
    }
  });

  it('scrubs credentials in any query parameter and JWTs anywhere in a URL', () => {
    expect(scrubUrl('/a?x=1&token=abc&Access_Token=def&y=2')).toBe(
      '/a?x=1&token=[Redacted]&Access_Token=[Redacted]&y=2',
    );
    expect(scrubUrl('/trpc/eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl?input=1')).toBe('/trpc/[Redacted]?input=1');
    expect(scrubUrl('/plain/path')).toBe('/plain/path');
  });
});

/** Sends raw bytes over a socket and resolves with the HTTP status of the answer. */
function rawRequest(baseUrl: string, request: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(request));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? `no answer: ${answer}`));
  });
}
