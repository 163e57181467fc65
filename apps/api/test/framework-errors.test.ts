// Requests refused before any procedure runs (by Node's HTTP parser, by Fastify's body limit and
// content-type parsers, by routing) still answer in tRPC's error envelope with an appCode under
// /trpc, with the status they always had. Sent over a real socket: `app.inject` skips Node's
// parser, which is what answers 431 and malformed requests.
import net from 'node:net';
import { AppErrorCode } from '@flash/core';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createTestServer, type TestServer } from '../../../test/support.ts';
import type { AppRouter } from '../src/index.ts';

type RawAnswer = { status: number; headers: Record<string, string>; body: string };

/** Writes `request` as is on a new connection and reads the answer until the server closes it. */
function send(port: number, request: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      let body = text.slice(split + 4);
      if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
      resolve({ status: Number(statusLine?.split(' ')[1]), headers, body });
    });
  });
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

const ENVELOPE = z.strictObject({
  error: z.strictObject({
    message: z.string().min(1),
    code: z.number().int().negative(),
    data: z.strictObject({
      code: z.string(),
      httpStatus: z.number(),
      path: z.string().optional(),
      appCode: z.enum(AppErrorCode),
    }),
  }),
});

const BIG_HEADER = `x-padding: ${'a'.repeat(20_000)}\r\n`;

function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nhost: localhost\r\n${extra}connection: close\r\n\r\n`;
}

function post(path: string, contentType: string | undefined, body: string, extra = ''): string {
  const type = contentType === undefined ? '' : `content-type: ${contentType}\r\n`;
  return `POST ${path} HTTP/1.1\r\nhost: localhost\r\n${type}${extra}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

describe('refusals before tRPC, over a real socket (NODE_ENV=production)', () => {
  let s: TestServer;
  let port: number;
  let token: string;
  const auth = () => `authorization: Bearer ${token}\r\n`;
  beforeAll(async () => {
    s = await createTestServer({ overrides: { NODE_ENV: 'production', AUTH_JWT_SECRET: 'z'.repeat(40) } });
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    const address = s.app.server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    port = address.port;
    token = await s.token(5);
  });
  afterAll(() => s.cleanup());

  const charge = JSON.stringify({ amount: 1000 });
  const cases: { name: string; request: () => string; status: number; appCode: AppErrorCode }[] = [
    {
      name: 'a body over the limit',
      request: () =>
        post(
          '/trpc/balance.charge',
          'application/json',
          JSON.stringify({ pad: 'x'.repeat(300_000) }),
          auth(),
        ),
      status: 413,
      appCode: 'PAYLOAD_TOO_LARGE',
    },
    {
      name: 'a form body (what a bare curl -d sends)',
      request: () => post('/trpc/balance.charge', 'application/x-www-form-urlencoded', charge, auth()),
      status: 415,
      appCode: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'an octet stream',
      request: () => post('/trpc/balance.charge', 'application/octet-stream', charge, auth()),
      status: 415,
      appCode: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'a body without a content type',
      request: () => post('/trpc/balance.charge', undefined, charge, auth()),
      status: 415,
      appCode: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'a text/plain body (refused by tRPC itself)',
      request: () => post('/trpc/balance.charge', 'text/plain', charge, auth()),
      status: 415,
      appCode: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'headers over the parser limit',
      request: () => get('/trpc/product.list', BIG_HEADER),
      status: 431,
      appCode: 'INVALID_INPUT',
    },
    {
      name: 'a malformed request line',
      request: () => 'GET /trpc/product.list HTTP/9\r\n\r\n',
      status: 400,
      appCode: 'INVALID_INPUT',
    },
    { name: 'GET /trpc without a path', request: () => get('/trpc'), status: 404, appCode: 'NOT_FOUND' },
    {
      name: 'GET /trpc/ with an empty path',
      request: () => get('/trpc/'),
      status: 404,
      appCode: 'NOT_FOUND',
    },
    {
      name: 'POST /trpc',
      request: () => post('/trpc', 'application/json', '{}'),
      status: 404,
      appCode: 'NOT_FOUND',
    },
    { name: 'an unknown procedure', request: () => get('/trpc/nope'), status: 404, appCode: 'NOT_FOUND' },
    { name: 'a nested path', request: () => get('/trpc/product/list'), status: 404, appCode: 'NOT_FOUND' },
    {
      name: 'a URL that cannot be decoded',
      request: () => get('/trpc/%E0%A4%A'),
      status: 400,
      appCode: 'INVALID_INPUT',
    },
    {
      name: 'a batch path over the parameter limit',
      request: () => get(`/trpc/${'product.list,'.repeat(200)}product.list?batch=1`),
      status: 414,
      appCode: 'INVALID_INPUT',
    },
    {
      name: 'a mutation by GET',
      request: () => get('/trpc/balance.charge', auth()),
      status: 405,
      appCode: 'INVALID_INPUT',
    },
  ];

  it.each(cases)('$name: $status $appCode', async ({ request, status, appCode }) => {
    const res = await send(port, request());
    expect(res.status, res.body).toBe(status);
    const body = ENVELOPE.parse(JSON.parse(res.body));
    expect(body.error.data.appCode).toBe(appCode);
    expect(body.error.data.httpStatus).toBe(status);
  });

  it('leaves answers outside /trpc in their own shape', async () => {
    const missing = await send(port, get('/nothing'));
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ statusCode: 404, error: 'Not Found' });
    const big = await send(port, get('/healthz', BIG_HEADER));
    expect(big.status).toBe(431);
    expect(JSON.parse(big.body)).toMatchObject({ statusCode: 431 });
  });

  it('gives the typed client the appCode of a refused body', async () => {
    const client = createTRPCClient<AppRouter>({
      links: [
        httpLink({ url: `http://127.0.0.1:${port}/trpc`, headers: { authorization: `Bearer ${token}` } }),
      ],
    });
    const err = await client.admin.product.create
      .mutate({ name: 'x'.repeat(300_000), price: 1, stock: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCClientError);
    expect((err as TRPCClientError<AppRouter>).data).toMatchObject({
      appCode: 'PAYLOAD_TOO_LARGE',
      httpStatus: 413,
    });
  });
});
