import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportOutboxBatch } from '@flash/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../../../test/support.ts';

// Batch export (exportOutboxBatch) against real Postgres and a real HTTP server: many exports at
// once split the backlog (SKIP LOCKED), every message is delivered once with its own key, one
// UPDATE marks a batch, failures are counted on their rows and retried by the next batch.
// A POST timing out on a starved machine would be a retried (duplicate) delivery, which these
// exact counts do not expect: the timeout is set out of reach.
const LONG = 60_000;

describe('outbox batch export', () => {
  const delivered = new Map<string, number>();
  let failKeys = new Set<string>();
  let server: Server;
  let withUrl: TestRuntime;
  let withoutUrl: TestRuntime;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const key = String(req.headers['idempotency-key']);
      req.resume();
      req.on('end', () => {
        if (failKeys.has(key)) {
          res.writeHead(503).end();
          return;
        }
        delivered.set(key, (delivered.get(key) ?? 0) + 1);
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    withUrl = await createTestRuntime({
      overrides: { DATA_PLATFORM_URL: `http://127.0.0.1:${port}/ingest` },
    });
    withoutUrl = await createTestRuntime();
  });
  afterAll(async () => {
    await withUrl.cleanup();
    await withoutUrl.cleanup();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const addMessages = async (env: TestRuntime, n: number, prefix: string) => {
    await env.rt.db
      .insertInto('outbox')
      .values(
        Array.from({ length: n }, (_, i) => ({
          topic: 'order.paid',
          key: `${prefix}-${i}`,
          payload: JSON.stringify({ i }),
        })),
      )
      .execute();
  };
  const unpublished = async (env: TestRuntime) =>
    (await env.rt.db.selectFrom('outbox').select('id').where('published_at', 'is', null).execute()).length;

  it('eight exports at once deliver 2,000 messages exactly once each, with their own keys', async () => {
    await addMessages(withUrl, 2000, 'many');
    const exports = Array.from({ length: 8 }, async () => {
      let batches = 0;
      for (;;) {
        const r = await exportOutboxBatch(withUrl.rt, { limit: 100, concurrency: 4, timeoutMs: LONG });
        if (r.claimed === 0) return batches;
        expect(r.published).toBe(r.claimed);
        batches++;
      }
    });
    const batches = await Promise.all(exports);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(20);
    expect(await unpublished(withUrl)).toBe(0);
    for (let i = 0; i < 2000; i++) expect(delivered.get(`order.paid:many-${i}`)).toBe(1);
  });

  it('counts a failed delivery on its row and leaves it for the next batch; the others are marked', async () => {
    await addMessages(withUrl, 10, 'flaky');
    failKeys = new Set(['order.paid:flaky-3', 'order.paid:flaky-7']);
    const first = await exportOutboxBatch(withUrl.rt, { limit: 100, timeoutMs: LONG });
    expect(first).toMatchObject({ claimed: 10, published: 8, failed: 2 });
    const failed = await withUrl.rt.db
      .selectFrom('outbox')
      .select(['key', 'attempts', 'last_error'])
      .where('published_at', 'is', null)
      .orderBy('key')
      .execute();
    expect(failed).toEqual([
      { key: 'flaky-3', attempts: 1, last_error: 'data platform answered HTTP 503' },
      { key: 'flaky-7', attempts: 1, last_error: 'data platform answered HTTP 503' },
    ]);
    failKeys = new Set();
    expect(await exportOutboxBatch(withUrl.rt, { limit: 100, timeoutMs: LONG })).toMatchObject({
      claimed: 2,
      published: 2,
    });
    for (let i = 0; i < 10; i++) expect(delivered.get(`order.paid:flaky-${i}`)).toBe(1);
  });

  it('without DATA_PLATFORM_URL a batch is one summary log line, and every message is marked', async () => {
    await addMessages(withoutUrl, 250, 'quiet');
    const lines: unknown[] = [];
    const log = (msg: string, data: unknown) => lines.push({ msg, data });
    expect(await exportOutboxBatch(withoutUrl.rt, { limit: 200, log })).toMatchObject({
      claimed: 200,
      logged: true,
    });
    expect(await exportOutboxBatch(withoutUrl.rt, { limit: 200, log })).toMatchObject({ claimed: 50 });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ data: { messages: 200, topics: { 'order.paid': 200 } } });
    expect(await unpublished(withoutUrl)).toBe(0);
  });
});
