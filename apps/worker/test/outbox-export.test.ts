import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';
import { outboxExportWorker } from '../src/outbox-export/outbox-export.worker.ts';
import { type RunningWorkers, startWorkers } from '../src/workers.ts';

// A data platform that fails the first two deliveries of every message.
function flakyDataPlatform() {
  const attempts = new Map<string, number>();
  const accepted = new Map<string, { payload: { orderId: string; payAmount: number } }[]>();
  const server = createServer((req, res) => {
    const key = String(req.headers['idempotency-key']);
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      if (n <= 2) {
        res.writeHead(503).end();
        return;
      }
      // A real platform drops duplicates by the idempotency key; we record them to count.
      accepted.set(key, [...(accepted.get(key) ?? []), JSON.parse(body)]);
      res.writeHead(200).end('{}');
    });
  });
  return { server, attempts, accepted };
}

describe('data-platform export', () => {
  let s: TestServer;
  let platform: ReturnType<typeof flakyDataPlatform>;
  let workers: RunningWorkers;

  beforeAll(async () => {
    platform = flakyDataPlatform();
    await new Promise<void>((r) => platform.server.listen(0, '127.0.0.1', r));
    const { port } = platform.server.address() as AddressInfo;
    s = await createTestServer({ overrides: { DATA_PLATFORM_URL: `http://127.0.0.1:${port}/ingest` } });
    workers = await startWorkers(s.rt, [outboxExportWorker]);
  });
  afterAll(async () => {
    await workers.close();
    await s.cleanup();
    await new Promise<void>((r) => (platform.server as Server).close(() => r()));
  });

  it('delivers every paid order despite failures, once per idempotency key, without slowing payment', async () => {
    const admin = await s.token(1, { admin: true });
    const p = (
      await call(
        s.app,
        'mutation',
        'admin.product.create',
        { name: 'exported', price: 1_000, stock: 100 },
        admin,
      )
    ).body.result.data.id;
    const orderIds: string[] = [];
    for (let i = 0; i < 10; i++) {
      const token = await s.token(500 + i);
      await call(s.app, 'mutation', 'balance.charge', { amount: 5_000 }, token);
      const order = (
        await call(s.app, 'mutation', 'order.create', { items: [{ productId: p, quantity: 2 }] }, token)
      ).body.result.data;
      const pay = await call(s.app, 'mutation', 'payment.pay', { orderId: order.orderId }, token);
      // The platform is failing right now; payment answers regardless.
      expect(pay.status).toBe(200);
      orderIds.push(order.orderId);
    }

    const deadline = Date.now() + 30_000;
    while (platform.accepted.size < orderIds.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect([...platform.accepted.keys()].sort()).toEqual(orderIds.map((id) => `order.paid:${id}`).sort());
    for (const id of orderIds) {
      const got = platform.accepted.get(`order.paid:${id}`)!;
      expect(got).toHaveLength(1);
      expect(got[0]!.payload).toMatchObject({ orderId: id, payAmount: 2_000 });
      expect(platform.attempts.get(`order.paid:${id}`)).toBe(3);
    }
    // The platform records a message before the worker has read its answer and marked the row
    // published: wait for the marks too, rather than reading them in that window.
    const unpublished = () =>
      s.rt.db.selectFrom('outbox').select('id').where('published_at', 'is', null).execute();
    await expect.poll(unpublished, { timeout: 10_000 }).toEqual([]);
  });
});
