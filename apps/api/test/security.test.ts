import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';
import { API_CSP, API_HEADERS, DASHBOARD_CSP, helmetHeaders } from '../src/plugins/security.ts';

const ALLOWED = 'https://shop.example';
const OTHER = 'https://evil.example';

/** Helmet's headers that act only on documents a browser renders: the dashboard page gets them. */
const DOCUMENT_ONLY = [
  'origin-agent-cluster',
  'cross-origin-opener-policy',
  'referrer-policy',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
];

/** OWASP's REST set on every JSON answer, and nothing meant for documents. */
const expectSecurityHeaders = (headers: Record<string, unknown>) => {
  expect(headers).toMatchObject({
    'cache-control': 'no-store',
    'content-security-policy': API_CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'cross-origin-resource-policy': 'same-origin',
  });
  expect(headers).toMatchObject(API_HEADERS);
  for (const name of DOCUMENT_ONLY) expect(headers[name], name).toBeUndefined();
  expect(headers['x-powered-by']).toBeUndefined();
};

/** The dashboard is an HTML page: helmet's whole set for documents, with its own policy. */
const expectDocumentHeaders = (headers: Record<string, unknown>) => {
  expect(headers).toMatchObject({
    'content-security-policy': DASHBOARD_CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'x-permitted-cross-domain-policies': 'none',
  });
  expect(headers).toMatchObject({ ...helmetHeaders(), 'content-security-policy': DASHBOARD_CSP });
  for (const name of DOCUMENT_ONLY) expect(headers[name], name).toBeDefined();
  expect(headers['x-powered-by']).toBeUndefined();
};

describe('security headers and CORS', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await createTestServer({ overrides: { CORS_ORIGINS: `${ALLOWED}, https://admin.shop.example` } });
  });
  afterAll(() => s.cleanup());

  it.each([
    ['GET /healthz', { method: 'GET' as const, url: '/healthz' }, 200],
    ['GET /readyz', { method: 'GET' as const, url: '/readyz' }, 200],
    ['a public query', { method: 'GET' as const, url: '/trpc/product.list' }, 200],
    ['a refused call', { method: 'GET' as const, url: '/trpc/balance.get' }, 401],
    ['a bad input', { method: 'GET' as const, url: '/trpc/product.get?input=%7B%7D' }, 400],
    ['a mutation', { method: 'POST' as const, url: '/trpc/coupon.issue', payload: {} }, 401],
    ['an unknown procedure', { method: 'GET' as const, url: '/trpc/nope' }, 404],
    ['an unknown route', { method: 'GET' as const, url: '/nope' }, 404],
  ])('sends the API headers on %s', async (_name, request, status) => {
    const res = await s.app.inject(request);
    expect(res.statusCode).toBe(status);
    expectSecurityHeaders(res.headers);
    // Plain HTTP: no HSTS (browsers ignore it there, and it must not pin a host by accident).
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });

  it('gives the dashboard page its own policy, still never framed', async () => {
    const res = await s.app.inject({ method: 'GET', url: '/admin/queues' });
    expect(res.statusCode).toBe(401);
    expectDocumentHeaders(res.headers);
    expect(DASHBOARD_CSP).toContain("frame-ancestors 'none'");
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
  });

  it('answers an allowed origin with CORS headers, and says the answer varies by Origin', async () => {
    for (const url of ['/trpc/product.list', '/healthz']) {
      const res = await s.app.inject({ method: 'GET', url, headers: { origin: ALLOWED } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      expect(String(res.headers.vary)).toMatch(/(^|, *)Origin(,|$)/i);
    }
    // The tRPC binding's own Vary survives next to it.
    const trpc = await s.app.inject({
      method: 'GET',
      url: '/trpc/product.list',
      headers: { origin: ALLOWED },
    });
    expect(String(trpc.headers.vary)).toMatch(/trpc-accept/);
  });

  it('gives any other origin no CORS headers', async () => {
    for (const origin of [OTHER, 'null', 'https://shop.example.evil.example', 'http://shop.example']) {
      const res = await s.app.inject({ method: 'GET', url: '/trpc/product.list', headers: { origin } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expectSecurityHeaders(res.headers);
    }
  });

  it('answers the preflight of a mutation for an allowed origin only', async () => {
    const preflight = (origin: string) =>
      s.app.inject({
        method: 'OPTIONS',
        url: '/trpc/balance.charge',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
    const ok = await preflight('https://admin.shop.example');
    expect(ok.statusCode).toBe(204);
    expect(ok.headers).toMatchObject({
      'access-control-allow-origin': 'https://admin.shop.example',
      'access-control-allow-methods': 'GET, POST',
      'access-control-max-age': '600',
    });
    expect(String(ok.headers['access-control-allow-headers']).toLowerCase()).toContain('authorization');
    // Without Access-Control-Allow-Origin the browser refuses, whatever else the answer says.
    const refused = await preflight(OTHER);
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('without CORS_ORIGINS', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await createTestServer();
  });
  afterAll(() => s.cleanup());

  it('sends no CORS headers to anyone, and still the security headers', async () => {
    const res = await s.app.inject({
      method: 'GET',
      url: '/trpc/product.list',
      headers: { origin: ALLOWED },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expectSecurityHeaders(res.headers);
  });

  it('ignores X-Forwarded-* from an untrusted peer', async () => {
    const res = await s.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.1' },
    });
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });
});

describe('behind a trusted proxy (TRUST_PROXY)', () => {
  let s: TestServer;
  beforeAll(async () => {
    // app.inject() connects from 127.0.0.1: the proxy is "loopback". Two calls at once, then one
    // per 100 s: the clock is the real one, so a refill must not come before the test is done.
    s = await createTestServer({
      overrides: { TRUST_PROXY: 'loopback', RATE_LIMIT_IP_PER_SEC: '0.01', RATE_LIMIT_IP_BURST: '2' },
    });
  });
  afterAll(() => s.cleanup());

  it('sends HSTS when the proxy says the client came over HTTPS', async () => {
    const res = await s.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(res.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
  });

  it('limits by the forwarded client address, not the proxy', async () => {
    const pay = async (userId: number, forwardedFor: string) =>
      (
        await s.app.inject({
          method: 'POST',
          url: '/trpc/payment.pay',
          headers: {
            authorization: `Bearer ${await s.token(userId)}`,
            'content-type': 'application/json',
            'x-forwarded-for': forwardedFor,
          },
          payload: { orderId: '00000000-0000-4000-8000-000000000000' },
        })
      ).json().error.data.appCode;
    expect(await pay(1, '198.51.100.1')).toBe('ORDER_NOT_FOUND');
    expect(await pay(2, '198.51.100.1')).toBe('ORDER_NOT_FOUND');
    expect(await pay(3, '198.51.100.1')).toBe('RATE_LIMITED');
    // Other clients behind the same proxy are not affected...
    expect(await pay(3, '198.51.100.2')).toBe('ORDER_NOT_FOUND');
    // ...and a client cannot pick its own address by prepending one: the proxy appends the real one.
    expect(await pay(4, '10.9.9.9, 198.51.100.1')).toBe('RATE_LIMITED');
  });
});

describe('batch size', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await createTestServer();
  });
  afterAll(() => s.cleanup());

  it('serves a batch of 10 calls and refuses 11 as a whole', async () => {
    const batch = (n: number) =>
      call(s.app, 'query', `${Array.from({ length: n }, () => 'product.top').join(',')}?batch=1`);
    const ten = await batch(10);
    expect(ten.status).toBe(200);
    expect(ten.body).toHaveLength(10);
    const eleven = await batch(11);
    expect(eleven.status).toBe(400);
    expect(eleven.body.error.data).toMatchObject({ code: 'BAD_REQUEST', appCode: 'INVALID_INPUT' });
    expect(eleven.body.error.message).toMatch(/batch/i);
  });
});
