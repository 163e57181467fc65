import { request } from 'node:http';
import { signToken } from '@flash/core';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';
import { aborted, ask, serveFixture } from './adapter-fixture.ts';

// The lean adapter must answer every request exactly as tRPC's own Fastify adapter does:
// the same status, the same body byte for byte, the same content type, vary and allow
// headers, and the same onError reports. Each case sends one request to both.

const q = (value: unknown) => encodeURIComponent(JSON.stringify(value));
const json = { 'content-type': 'application/json' };

type Case = { name: string; request: (tokens: Tokens) => InjectOptions };

function fastCases(): Case[] {
  const post =
    (path: string, payload: string | undefined, token?: keyof Tokens, headers = json) =>
    (tokens: Tokens): InjectOptions => ({
      method: 'POST',
      url: `/trpc/${path}`,
      headers: token ? { ...headers, authorization: `Bearer ${tokens[token]}` } : headers,
      payload,
    });
  const add = JSON.stringify({ a: 1, b: 2 });
  return [
    { name: 'fast mutation', request: post('fastAdd', add, 'user') },
    { name: 'fast mutation, limited kind', request: post('fastLimitedAdd', add, 'user') },
    { name: 'fast mutation, zod error', request: post('fastAdd', JSON.stringify({ a: 'x' }), 'user') },
    {
      name: 'fast mutation, unknown key',
      request: post('fastAdd', JSON.stringify({ a: 1, b: 2, c: 3 }), 'user'),
    },
    { name: 'fast mutation, malformed JSON', request: post('fastAdd', '{"a":', 'user') },
    { name: 'fast mutation, empty body', request: post('fastAdd', '', 'user') },
    { name: 'fast mutation, JSON null', request: post('fastAdd', 'null', 'user') },
    { name: 'fast mutation, no token', request: post('fastAdd', add) },
    { name: 'fast mutation, no token and malformed JSON', request: post('fastAdd', '{"a":') },
    { name: 'fast mutation, expired token', request: post('fastAdd', add, 'expired') },
    { name: 'fast mutation, forged token', request: post('fastAdd', add, 'forged') },
    {
      name: 'fast mutation, malformed authorization',
      request: () => ({
        method: 'POST',
        url: '/trpc/fastAdd',
        headers: { ...json, authorization: 'Basic x' },
        payload: add,
      }),
    },
    { name: 'fast mutation, domain error', request: post('fastSoldOut', add, 'user') },
    { name: 'fast mutation, internal error', request: post('fastBug', add, 'user') },
    { name: 'fast mutation, stream-like output', request: post('fastStreamy', add, 'user') },
    { name: 'fast mutation, undefined output', request: post('fastNothing', add, 'user') },
    { name: 'fast mutation, output validator strips a key', request: post('fastStripped', add, 'user') },
    { name: 'fast mutation, output validation fails', request: post('fastBadOutput', add, 'user') },
    {
      name: 'fast mutation, charset in content type',
      request: post('fastAdd', add, 'user', { 'content-type': 'application/json; charset=utf-8' }),
    },
    {
      name: 'fast mutation, text/plain body',
      request: post('fastAdd', add, 'user', { 'content-type': 'text/plain' }),
    },
    {
      name: 'fast mutation as GET',
      request: (tokens) => ({
        method: 'GET',
        url: `/trpc/fastAdd?input=${q({ a: 1, b: 2 })}`,
        headers: { authorization: `Bearer ${tokens.user}` },
      }),
    },
    {
      name: 'fast mutations in a batch (tRPC chain)',
      request: (tokens) => ({
        method: 'POST',
        url: '/trpc/fastAdd,fastSoldOut,fastAdd?batch=1',
        headers: { ...json, authorization: `Bearer ${tokens.user}` },
        payload: JSON.stringify({ 0: { a: 1, b: 2 }, 1: { a: 1, b: 2 }, 2: { a: 'x' } }),
      }),
    },
    {
      name: 'fast mutation, batch=0',
      request: (tokens) => ({
        method: 'POST',
        url: '/trpc/fastAdd?batch=0',
        headers: { ...json, authorization: `Bearer ${tokens.user}` },
        payload: add,
      }),
    },
    { name: 'fast mutation, percent-encoded path', request: post('fast%41dd', add, 'user') },
  ];
}
type Tokens = { user: string; admin: string; expired: string; forged: string };

const cases: Case[] = [
  // queries
  { name: 'query without input', request: () => ({ method: 'GET', url: '/trpc/echo' }) },
  { name: 'query with input', request: () => ({ method: 'GET', url: `/trpc/echo?input=${q({ n: 3 })}` }) },
  { name: 'query with empty input', request: () => ({ method: 'GET', url: '/trpc/echo?input=' }) },
  { name: 'query, zod error', request: () => ({ method: 'GET', url: `/trpc/echo?input=${q({ n: -1 })}` }) },
  {
    name: 'query, unknown key',
    request: () => ({ method: 'GET', url: `/trpc/echo?input=${q({ n: 1, x: 1 })}` }),
  },
  { name: 'query, malformed JSON', request: () => ({ method: 'GET', url: '/trpc/echo?input=%7Bnope' }) },
  {
    name: 'malformed JSON never read by a procedure without input',
    request: () => ({ method: 'GET', url: '/trpc/hello?input=%7Bnope' }),
  },
  { name: 'query returning undefined', request: () => ({ method: 'GET', url: '/trpc/nothing' }) },
  { name: 'nested path', request: () => ({ method: 'GET', url: '/trpc/nested.deep.path' }) },
  { name: 'percent-encoded path', request: () => ({ method: 'GET', url: '/trpc/ech%6F' }) },
  { name: 'double-encoded path', request: () => ({ method: 'GET', url: '/trpc/ech%256F' }) },
  { name: 'bad escape after decoding', request: () => ({ method: 'GET', url: '/trpc/echo%25E0%25A4%25A' }) },
  { name: 'raw plus in input', request: () => ({ method: 'GET', url: '/trpc/echo?input={"n":1+2}' }) },
  {
    name: 'repeated input',
    request: () => ({ method: 'GET', url: `/trpc/echo?input=${q({ n: 1 })}&input=${q({ n: 2 })}` }),
  },
  {
    name: 'query with a JSON content type',
    request: () => ({ method: 'GET', url: '/trpc/hello', headers: json }),
  },
  // mutations
  {
    name: 'mutation',
    request: () => ({
      method: 'POST',
      url: '/trpc/add',
      headers: json,
      payload: JSON.stringify({ a: 1, b: 2 }),
    }),
  },
  {
    name: 'mutation, content type with charset and capitals',
    request: () => ({
      method: 'POST',
      url: '/trpc/add',
      headers: { 'content-type': 'Application/JSON; charset=utf-8' },
      payload: JSON.stringify({ a: 1, b: 2 }),
    }),
  },
  {
    name: 'mutation, zod error',
    request: () => ({ method: 'POST', url: '/trpc/add', headers: json, payload: JSON.stringify({ a: 'x' }) }),
  },
  {
    name: 'mutation, malformed JSON',
    request: () => ({ method: 'POST', url: '/trpc/add', headers: json, payload: '{"a":' }),
  },
  {
    name: 'mutation, empty body',
    request: () => ({ method: 'POST', url: '/trpc/add', headers: json, payload: '' }),
  },
  { name: 'mutation without input', request: () => ({ method: 'POST', url: '/trpc/touch', headers: json }) },
  { name: 'mutation, no content type', request: () => ({ method: 'POST', url: '/trpc/touch' }) },
  {
    name: 'mutation, text/plain body',
    request: () => ({
      method: 'POST',
      url: '/trpc/touch',
      headers: { 'content-type': 'text/plain' },
      payload: '{}',
    }),
  },
  {
    name: 'mutation, octet stream',
    request: () => ({
      method: 'POST',
      url: '/trpc/touch',
      headers: { 'content-type': 'application/octet-stream' },
      payload: 'abc',
    }),
  },
  // fast mutations (trpc/fast-path.ts): the lean plugin runs single calls without tRPC's chain
  ...fastCases(),
  // domain and internal errors
  {
    name: 'domain error',
    request: () => ({
      method: 'POST',
      url: '/trpc/soldOut',
      headers: json,
      payload: JSON.stringify({ couponId: 7 }),
    }),
  },
  { name: 'domain error with details', request: () => ({ method: 'GET', url: '/trpc/outOfStock' }) },
  { name: 'unknown error', request: () => ({ method: 'GET', url: '/trpc/bug' }) },
  { name: 'unserializable output', request: () => ({ method: 'GET', url: '/trpc/bigint' }) },
  { name: 'stream-like output without streaming', request: () => ({ method: 'GET', url: '/trpc/streamy' }) },
  // auth
  { name: 'no token', request: () => ({ method: 'GET', url: '/trpc/me' }) },
  {
    name: 'malformed header',
    request: () => ({ method: 'GET', url: '/trpc/me', headers: { authorization: 'Token x' } }),
  },
  {
    name: 'expired token',
    request: (t) => ({ method: 'GET', url: '/trpc/me', headers: { authorization: `Bearer ${t.expired}` } }),
  },
  {
    name: 'forged token',
    request: (t) => ({ method: 'GET', url: '/trpc/me', headers: { authorization: `Bearer ${t.forged}` } }),
  },
  {
    name: 'valid token',
    request: (t) => ({ method: 'GET', url: '/trpc/me', headers: { authorization: `Bearer ${t.user}` } }),
  },
  {
    name: 'non-admin on admin procedure',
    request: (t) => ({
      method: 'POST',
      url: '/trpc/adminOnly',
      headers: { ...json, authorization: `Bearer ${t.user}` },
    }),
  },
  {
    name: 'admin on admin procedure',
    request: (t) => ({
      method: 'POST',
      url: '/trpc/adminOnly',
      headers: { ...json, authorization: `Bearer ${t.admin}` },
    }),
  },
  // routing
  { name: 'unknown procedure', request: () => ({ method: 'GET', url: '/trpc/nope' }) },
  { name: 'router, not procedure', request: () => ({ method: 'GET', url: '/trpc/nested' }) },
  { name: 'prototype key', request: () => ({ method: 'GET', url: '/trpc/__proto__' }) },
  {
    name: 'unknown procedure by POST',
    request: () => ({ method: 'POST', url: '/trpc/nope', headers: json, payload: '{}' }),
  },
  {
    name: 'mutation by GET',
    request: () => ({ method: 'GET', url: `/trpc/add?input=${q({ a: 1, b: 2 })}` }),
  },
  {
    name: 'query by POST',
    request: () => ({ method: 'POST', url: '/trpc/echo', headers: json, payload: '{"n":1}' }),
  },
  { name: 'HEAD', request: () => ({ method: 'HEAD', url: '/trpc/hello' }) },
  {
    name: 'PUT',
    request: () => ({ method: 'PUT', url: '/trpc/add', headers: json, payload: '{"a":1,"b":2}' }),
  },
  { name: 'DELETE without body', request: () => ({ method: 'DELETE', url: '/trpc/hello' }) },
  // batches
  {
    name: 'batch of queries',
    request: () => ({
      method: 'GET',
      url: `/trpc/echo,hello,echo?batch=1&input=${q({ 0: { n: 1 }, 2: { n: 2 } })}`,
    }),
  },
  { name: 'batch without input', request: () => ({ method: 'GET', url: '/trpc/hello,nothing?batch=1' }) },
  {
    name: 'batch of mutations',
    request: () => ({
      method: 'POST',
      url: '/trpc/add,touch,add?batch=1',
      headers: json,
      payload: JSON.stringify({ 0: { a: 1, b: 2 }, 2: { a: 5, b: 5 } }),
    }),
  },
  {
    name: 'batch with one failure (207)',
    request: () => ({
      method: 'GET',
      url: `/trpc/echo,echo?batch=1&input=${q({ 0: { n: 1 }, 1: { n: -1 } })}`,
    }),
  },
  {
    name: 'batch failing alike',
    request: () => ({
      method: 'GET',
      url: `/trpc/echo,echo?batch=1&input=${q({ 0: { n: -1 }, 1: { n: -2 } })}`,
    }),
  },
  {
    name: 'batch failing differently',
    request: () => ({ method: 'GET', url: `/trpc/echo,outOfStock,me?batch=1&input=${q({ 0: { n: -1 } })}` }),
  },
  {
    name: 'batch with unknown procedure',
    request: () => ({ method: 'GET', url: '/trpc/hello,nope?batch=1' }),
  },
  {
    name: 'batch mixing queries and mutations',
    request: () => ({ method: 'GET', url: '/trpc/hello,touch?batch=1' }),
  },
  {
    name: 'batch input as array',
    request: () => ({ method: 'GET', url: `/trpc/echo,echo?batch=1&input=${q([{ n: 1 }, { n: 2 }])}` }),
  },
  {
    name: 'batch input as number',
    request: () => ({ method: 'GET', url: '/trpc/echo,hello?batch=1&input=5' }),
  },
  {
    name: 'batch, malformed JSON',
    request: () => ({ method: 'POST', url: '/trpc/add,touch?batch=1', headers: json, payload: '{' }),
  },
  {
    name: 'batch, stream-like output',
    request: () => ({ method: 'GET', url: '/trpc/hello,streamy?batch=1' }),
  },
  {
    name: 'batch, unserializable output',
    request: () => ({ method: 'GET', url: '/trpc/hello,bigint?batch=1' }),
  },
  {
    name: 'batch by the wrong method',
    request: () => ({ method: 'GET', url: `/trpc/add,add?batch=1&input=${q({ 0: { a: 1, b: 1 } })}` }),
  },
  { name: 'batch of one', request: () => ({ method: 'GET', url: '/trpc/hello?batch=1' }) },
  { name: 'batch=0 is not a batch', request: () => ({ method: 'GET', url: '/trpc/hello?batch=0' }) },
  {
    name: 'batch with auth',
    request: (t) => ({
      method: 'GET',
      url: '/trpc/me,hello?batch=1',
      headers: { authorization: `Bearer ${t.user}` },
    }),
  },
  {
    name: 'batch, streaming requested (jsonl)',
    request: () => ({
      method: 'GET',
      url: `/trpc/echo,hello?batch=1&input=${q({ 0: { n: 4 } })}`,
      headers: { 'trpc-accept': 'application/jsonl' },
    }),
  },
  {
    name: 'streaming without batch',
    request: () => ({ method: 'GET', url: '/trpc/hello', headers: { accept: 'application/jsonl' } }),
  },
];

describe.each(['production', 'development'] as const)('lean adapter vs official (NODE_ENV=%s)', (nodeEnv) => {
  let s: TestRuntime;
  const apps: Record<'official' | 'lean', Awaited<ReturnType<typeof serveFixture>>> = {} as never;
  let tokens: Tokens;
  beforeAll(async () => {
    s = await createTestRuntime({ overrides: { NODE_ENV: nodeEnv, AUTH_JWT_SECRET: 'w'.repeat(40) } });
    apps.official = await serveFixture('official', s.rt);
    apps.lean = await serveFixture('lean', s.rt);
    const secret = s.config.jwtSecret;
    tokens = {
      user: await signToken(secret, 5),
      admin: await signToken(secret, 1, { admin: true }),
      expired: await signToken(secret, 5, { expiresIn: Math.floor(Date.now() / 1000) - 3600 }),
      forged: await signToken('f'.repeat(40), 5),
    };
  });
  afterAll(async () => {
    await apps.official.app.close();
    await apps.lean.app.close();
    await s.cleanup();
  });

  it.each(cases)('$name', async ({ request }) => {
    const official = await ask(apps.official.app, apps.official.events, request(tokens));
    const lean = await ask(apps.lean.app, apps.lean.events, request(tokens));
    expect(lean).toEqual(official);
  });

  it('keeps stacks out of answers in every mode', async () => {
    const res = await apps.lean.app.inject({ method: 'GET', url: '/trpc/bug' });
    expect(res.statusCode).toBe(500);
    expect(res.body.includes('"stack"')).toBe(false);
    expect(res.body).not.toContain('secret internals');
  });
});

describe('lean adapter: the client leaving', () => {
  it("aborts the procedures' signal, as the official adapter does", async () => {
    const s = await createTestRuntime({
      overrides: { NODE_ENV: 'production', AUTH_JWT_SECRET: 'w'.repeat(40) },
    });
    try {
      for (const kind of ['official', 'lean'] as const) {
        const { app } = await serveFixture(kind, s.rt);
        const url = await app.listen({ port: 0, host: '127.0.0.1' });
        try {
          const before = aborted.length;
          const req = request(`${url}/trpc/waitForAbort`);
          req.on('error', () => {});
          req.end();
          // Leave once the procedure is running.
          await new Promise((resolve) => setTimeout(resolve, 100));
          req.destroy();
          for (let i = 0; i < 100 && aborted.length === before; i++) {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          expect(aborted.length, kind).toBe(before + 1);
        } finally {
          await app.close();
        }
      }
    } finally {
      await s.cleanup();
    }
  });
});

describe('lean adapter options', () => {
  let s: TestRuntime;
  beforeAll(async () => {
    s = await createTestRuntime({ overrides: { NODE_ENV: 'production', AUTH_JWT_SECRET: 'w'.repeat(40) } });
  });
  afterAll(() => s.cleanup());

  it.each([
    { name: 'batching disabled', options: { allowBatching: false }, url: '/trpc/hello,hello?batch=1' },
    { name: 'batching disabled, single call', options: { allowBatching: false }, url: '/trpc/hello' },
    {
      name: 'batch over the maximum size',
      options: { maxBatchSize: 2 },
      url: '/trpc/hello,hello,hello?batch=1',
    },
    { name: 'batch at the maximum size', options: { maxBatchSize: 2 }, url: '/trpc/hello,hello?batch=1' },
  ])('$name answers as tRPC does', async ({ options, url }) => {
    const official = await serveFixture('official', s.rt, options);
    const lean = await serveFixture('lean', s.rt, options);
    try {
      const a = await ask(official.app, official.events, { method: 'GET', url });
      const b = await ask(lean.app, lean.events, { method: 'GET', url });
      expect(b).toEqual(a);
    } finally {
      await official.app.close();
      await lean.app.close();
    }
  });
});
