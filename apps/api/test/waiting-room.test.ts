// The waiting room end to end through the API (app.inject, and once over real HTTP): the
// contract's procedures, errors and header, the guard on coupon.issue and order.create (both
// through the fast path, which serves single mutations), and the metrics. The service's clock
// is manual, so admission is driven by moving it, not by sleeping.
import { manualClock, signPass } from '@flash/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from '../../../test/support.ts';

const START = Date.parse('2026-12-07T09:00:00.000Z');

describe('waiting rooms over the API', () => {
  const clock = manualClock(new Date(START));
  let s: TestServer;
  let admin: string;
  beforeAll(async () => {
    s = await createTestServer({ clock });
    admin = await s.token(1, { admin: true });
  });
  afterAll(() => s.cleanup());

  type Answer = { status: number; headers: Record<string, unknown>; body: any };
  const send = async (
    kind: 'query' | 'mutation',
    path: string,
    input: unknown,
    options: { user?: number; token?: string; pass?: string } = {},
  ): Promise<Answer> => {
    const headers: Record<string, string> = {};
    const token = options.token ?? (options.user ? await s.token(options.user) : undefined);
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.pass !== undefined) headers['x-waiting-room-pass'] = options.pass;
    const res =
      kind === 'query'
        ? await s.app.inject({
            method: 'GET',
            url: `/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`,
            headers,
          })
        : await s.app.inject({
            method: 'POST',
            url: `/trpc/${path}`,
            headers: { ...headers, 'content-type': 'application/json' },
            payload: JSON.stringify(input),
          });
    return { status: res.statusCode, headers: res.headers, body: res.json() };
  };
  const data = (a: Answer) => {
    if (a.status !== 200) throw new Error(`expected 200, got ${a.status}: ${JSON.stringify(a.body)}`);
    return a.body.result.data;
  };
  const appCode = (a: Answer) => a.body.error?.data?.appCode;

  const createCoupon = async () =>
    data(
      await send(
        'mutation',
        'admin.coupon.create',
        { name: 'Sale', discount: { type: 'FIXED', value: 1000 }, totalQuantity: 1000 },
        { token: admin },
      ),
    ).couponId as number;
  const createProduct = async () =>
    data(
      await send(
        'mutation',
        'admin.product.create',
        { name: 'Thing', price: 5000, stock: 1000 },
        { token: admin },
      ),
    ).id as number;
  const createRoom = async (input: Record<string, unknown>) =>
    data(
      await send('mutation', 'admin.waitingRoom.create', { name: 'Sale room', ...input }, { token: admin }),
    ).roomId as number;
  const join = async (roomId: number, user: number) =>
    send('mutation', 'waitingRoom.join', { roomId }, { user });
  const status = async (roomId: number, user: number) =>
    send('query', 'waitingRoom.status', { roomId }, { user });
  const get = async (roomId: unknown) => send('query', 'waitingRoom.get', { roomId });
  const issue = (couponId: number, user: number, pass?: string) =>
    send('mutation', 'coupon.issue', { couponId }, { user, pass });

  describe('admin.waitingRoom.create', () => {
    it('needs an admin, at least one coupon or product, and a rate in range', async () => {
      const couponId = await createCoupon();
      const user = await send(
        'mutation',
        'admin.waitingRoom.create',
        { name: 'x', couponIds: [couponId], admitPerSecond: 5 },
        { user: 5 },
      );
      expect([user.status, appCode(user)]).toEqual([403, 'FORBIDDEN']);
      for (const input of [
        { name: 'x', admitPerSecond: 5 },
        { name: 'x', couponIds: [], productIds: [], admitPerSecond: 5 },
        { name: 'x', couponIds: [couponId], admitPerSecond: 0 },
        { name: 'x', couponIds: [couponId], admitPerSecond: 100_001 },
        { name: 'x', couponIds: [couponId], admitPerSecond: 5, passTtlSeconds: 59 },
        { name: 'x', couponIds: [couponId, couponId], admitPerSecond: 5 },
        { name: 'x', couponIds: [couponId], admitPerSecond: 5, opensAt: 'tomorrow' },
      ]) {
        const res = await send('mutation', 'admin.waitingRoom.create', input, { token: admin });
        expect([res.status, appCode(res)], JSON.stringify(input)).toEqual([400, 'INVALID_INPUT']);
      }
    });
  });

  describe('waitingRoom.get', () => {
    it('shows the room to anyone, cacheable for a second', async () => {
      const couponId = await createCoupon();
      const opensAt = new Date(START + 3_600_000).toISOString();
      const roomId = await createRoom({ couponIds: [couponId], admitPerSecond: 50, opensAt });
      const res = await get(roomId);
      expect(data(res)).toEqual({
        roomId,
        name: 'Sale room',
        couponIds: [couponId],
        productIds: [],
        admitPerSecond: 50,
        paused: false,
        opensAt,
        joined: 0,
        admittedThrough: 0,
      });
      expect(res.headers['cache-control']).toBe('public, max-age=1');
    });

    it('answers WAITING_ROOM_NOT_FOUND (404) with the roomId for an unknown room, not cacheable', async () => {
      const res = await get(987_654);
      expect([res.status, appCode(res), res.body.error.data.roomId]).toEqual([
        404,
        'WAITING_ROOM_NOT_FOUND',
        987_654,
      ]);
      // The API's default (plugins/security.ts): only a room's answer is public.
      expect(res.headers['cache-control']).toBe('no-store');
      expect(appCode(await get('1'))).toBe('INVALID_INPUT');
    });

    it('in a batch with a private call, the response is not marked public', async () => {
      const couponId = await createCoupon();
      const roomId = await createRoom({ couponIds: [couponId], admitPerSecond: 5 });
      const res = await s.app.inject({
        method: 'GET',
        url: `/trpc/waitingRoom.get,balance.get?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: { roomId } }))}`,
        headers: { authorization: `Bearer ${await s.token(9)}` },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
    });
  });

  describe('join, status and admission', () => {
    it('hands out tickets in order, the same ticket again, and admits at the rate as time passes', async () => {
      const couponId = await createCoupon();
      const roomId = await createRoom({ couponIds: [couponId], admitPerSecond: 2 });
      clock.advance(10_000);
      // Nobody waits: the first shopper goes straight in.
      const first = data(await join(roomId, 101));
      expect(first).toMatchObject({ ticket: 1, position: 0, admitted: true, estimatedWaitSeconds: 0 });
      expect(typeof first.pass).toBe('string');
      const second = data(await join(roomId, 102));
      expect(second).toMatchObject({
        ticket: 2,
        position: 0,
        admitted: false,
        pass: null,
        estimatedWaitSeconds: 0.5,
      });
      const third = data(await join(roomId, 103));
      expect(third).toMatchObject({ ticket: 3, position: 1, admitted: false, estimatedWaitSeconds: 1 });
      expect(data(await join(roomId, 102)).ticket).toBe(2);
      expect(data(await get(roomId))).toMatchObject({ joined: 3, admittedThrough: 1 });

      clock.advance(500);
      expect(data(await status(roomId, 102))).toMatchObject({ ticket: 2, admitted: true, position: 0 });
      expect(data(await status(roomId, 103))).toMatchObject({ ticket: 3, admitted: false, position: 0 });
      clock.advance(500);
      expect(data(await status(roomId, 103))).toMatchObject({ admitted: true });
      expect(data(await get(roomId))).toMatchObject({ joined: 3, admittedThrough: 3 });

      const notJoined = await status(roomId, 104);
      expect([notJoined.status, appCode(notJoined), notJoined.body.error.data.roomId]).toEqual([
        404,
        'WAITING_ROOM_NOT_JOINED',
        roomId,
      ]);
      const unknown = await join(55_555, 101);
      expect([unknown.status, appCode(unknown)]).toEqual([404, 'WAITING_ROOM_NOT_FOUND']);
      const noToken = await send('mutation', 'waitingRoom.join', { roomId }, {});
      expect(appCode(noToken)).toBe('UNAUTHORIZED');
    });

    it('admin.waitingRoom.update pauses, resumes and changes the rate from that moment on', async () => {
      const couponId = await createCoupon();
      const roomId = await createRoom({ couponIds: [couponId], admitPerSecond: 1 });
      for (let u = 1; u <= 20; u++) data(await join(roomId, 200 + u));
      // Admission runs from the room's creation: no time has passed, nobody is in yet.
      expect(data(await get(roomId)).admittedThrough).toBe(0);
      const paused = data(
        await send('mutation', 'admin.waitingRoom.update', { roomId, paused: true }, { token: admin }),
      );
      expect(paused).toMatchObject({ roomId, paused: true, admitPerSecond: 1, admittedThrough: 0 });
      clock.advance(60_000);
      expect(data(await get(roomId)).admittedThrough).toBe(0);
      data(
        await send(
          'mutation',
          'admin.waitingRoom.update',
          { roomId, paused: false, admitPerSecond: 4 },
          { token: admin },
        ),
      );
      clock.advance(1_000);
      expect(data(await get(roomId))).toMatchObject({ paused: false, admitPerSecond: 4, admittedThrough: 4 });
      // A lower rate applies from its moment: the 4 admitted stay admitted.
      data(
        await send('mutation', 'admin.waitingRoom.update', { roomId, admitPerSecond: 1 }, { token: admin }),
      );
      clock.advance(2_000);
      expect(data(await get(roomId)).admittedThrough).toBe(6);
      const missing = await send(
        'mutation',
        'admin.waitingRoom.update',
        { roomId: 999_999, paused: true },
        { token: admin },
      );
      expect([missing.status, appCode(missing)]).toEqual([404, 'WAITING_ROOM_NOT_FOUND']);
    });
  });

  describe('the pass on guarded calls', () => {
    let couponId: number;
    let otherCoupon: number;
    let productId: number;
    let roomId: number;
    let otherRoom: number;
    let pass: string;
    beforeAll(async () => {
      couponId = await createCoupon();
      otherCoupon = await createCoupon();
      productId = await createProduct();
      roomId = await createRoom({
        couponIds: [couponId],
        productIds: [productId],
        admitPerSecond: 1000,
        passTtlSeconds: 60,
      });
      otherRoom = await createRoom({ couponIds: [otherCoupon], admitPerSecond: 1000 });
      clock.advance(1_000);
      pass = data(await join(roomId, 301)).pass;
      expect(pass).toEqual(expect.any(String));
      data(await join(roomId, 302));
      clock.advance(1_000);
    });

    const refused = (a: Answer, room = roomId) => {
      expect([a.status, appCode(a), a.body.error.data.roomId]).toEqual([403, 'NOT_ADMITTED', room]);
    };

    it('coupon.issue of a room coupon needs the pass of that room and user', async () => {
      refused(await issue(couponId, 301));
      refused(await issue(couponId, 302, pass)); // another user's pass
      refused(await issue(couponId, 301, `${pass.slice(0, -2)}AA`)); // forged signature
      refused(await issue(couponId, 301, 'not a pass'));
      refused(await issue(couponId, 301, 'x'.repeat(8_000))); // oversized
      refused(await issue(couponId, 301, `${pass}, ${pass}`)); // sent twice
      const otherRoomPass = data(await join(otherRoom, 301)).pass;
      refused(await issue(couponId, 301, otherRoomPass));
      expect(data(await issue(couponId, 301, pass))).toMatchObject({ couponId, status: 'ISSUED' });
      // The same pass does not open the other room's coupon, nor a pass of another secret.
      refused(await issue(otherCoupon, 301, pass), otherRoom);
      const foreign = signPass('z'.repeat(40), { roomId, userId: 301, ticket: 1, expiresAtMs: START + 9e9 });
      refused(await issue(couponId, 301, foreign));
    });

    it('a pass expires passTtlSeconds after its ticket was first seen admitted, and stays the same', async () => {
      const again = data(await status(roomId, 301));
      expect(again.pass).toBe(pass);
      const late = data(await status(roomId, 302));
      clock.advance(61_000);
      refused(await issue(couponId, 302, late.pass));
      expect(data(await status(roomId, 302)).pass).toBe(late.pass);
    });

    it('order.create with a room product needs the pass; other products and coupons pay nothing', async () => {
      const other = await createProduct();
      const fresh = data(await join(roomId, 303)).pass;
      refused(await send('mutation', 'order.create', { items: [{ productId, quantity: 1 }] }, { user: 303 }));
      refused(
        await send(
          'mutation',
          'order.create',
          {
            items: [
              { productId: other, quantity: 1 },
              { productId, quantity: 1 },
            ],
          },
          { user: 303 },
        ),
      );
      expect(
        data(
          await send(
            'mutation',
            'order.create',
            { items: [{ productId, quantity: 1 }] },
            { user: 303, pass: fresh },
          ),
        ),
      ).toMatchObject({ status: 'PENDING_PAYMENT' });
      // Unguarded: no header needed, and a malformed one is ignored.
      expect(
        data(
          await send(
            'mutation',
            'order.create',
            { items: [{ productId: other, quantity: 1 }] },
            { user: 304, pass: '%%%' },
          ),
        ),
      ).toMatchObject({ status: 'PENDING_PAYMENT' });
      const free = await createCoupon();
      expect(data(await issue(free, 304))).toMatchObject({ status: 'ISSUED' });
    });

    it('a batch call is guarded as a single one', async () => {
      const res = await s.app.inject({
        method: 'POST',
        url: '/trpc/coupon.issue?batch=1',
        headers: { authorization: `Bearer ${await s.token(305)}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ 0: { couponId } }),
      });
      expect(res.json()[0].error.data).toMatchObject({ appCode: 'NOT_ADMITTED', roomId });
    });
  });

  it('counts joins against the caller rate limits', async () => {
    const limited = await createTestServer({
      clock,
      overrides: { RATE_LIMIT_USER_PER_SEC: '0.01', RATE_LIMIT_USER_BURST: '3' },
    });
    try {
      const token = await limited.token(1, { admin: true });
      const couponId = (
        await limited.app.inject({
          method: 'POST',
          url: '/trpc/admin.coupon.create',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          payload: JSON.stringify({ name: 'c', discount: { type: 'FIXED', value: 1 }, totalQuantity: 1 }),
        })
      ).json().result.data.couponId;
      const roomId = (
        await limited.app.inject({
          method: 'POST',
          url: '/trpc/admin.waitingRoom.create',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          payload: JSON.stringify({ name: 'r', couponIds: [couponId], admitPerSecond: 1 }),
        })
      ).json().result.data.roomId;
      const user = await limited.token(42);
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await limited.app.inject({
          method: 'POST',
          url: '/trpc/waitingRoom.join',
          headers: { authorization: `Bearer ${user}`, 'content-type': 'application/json' },
          payload: JSON.stringify({ roomId }),
        });
        codes.push(res.statusCode);
      }
      expect(codes).toEqual([200, 200, 200, 429, 429]);
    } finally {
      await limited.cleanup();
    }
  });

  it('exposes the waiting-room metrics by the names the dashboards use', async () => {
    const couponId = await createCoupon();
    const roomId = await createRoom({ couponIds: [couponId], admitPerSecond: 1 });
    for (let u = 0; u < 150; u++) data(await join(roomId, 500 + u));
    clock.advance(30_000);
    const res = await s.app.inject({ method: 'GET', url: '/metrics' });
    const text = res.body;
    // 30 s at 1 a second: tickets 1..30 admitted, 120 waiting, the oldest (31) joined 30 s ago.
    expect(text).toContain(`flash_waiting_room_joined_total{room="${roomId}"} 150`);
    expect(text).toContain(`flash_waiting_room_admitted_through{room="${roomId}"} 30`);
    expect(text).toContain(`flash_waiting_room_waiting{room="${roomId}"} 120`);
    expect(text).toContain(`flash_waiting_room_oldest_wait_seconds{room="${roomId}"} 30`);
    for (const name of [
      'flash_waiting_room_joined_total{room=',
      'flash_waiting_room_admitted_through{room=',
      'flash_waiting_room_waiting{room=',
      'flash_waiting_room_oldest_wait_seconds{room=',
      'flash_waiting_room_pass_refusals_total{reason="missing"}',
      'flash_waiting_room_pass_refusals_total{reason="forged"}',
      'flash_waiting_room_pass_refusals_total{reason="other_user"}',
      'flash_waiting_room_pass_refusals_total{reason="other_room"}',
      'flash_waiting_room_pass_refusals_total{reason="expired"}',
      'flash_waiting_room_pass_refusals_total{reason="malformed"}',
    ]) {
      expect(text, name).toContain(name);
    }
  });

  it('serves join and get over real HTTP like a client', async () => {
    const couponId = await createCoupon();
    const roomId = await createRoom({ couponIds: [couponId], admitPerSecond: 10 });
    const address = await s.app.listen({ port: 0, host: '127.0.0.1' });
    const token = await s.token(401);
    const joined = await fetch(`${address}/trpc/waitingRoom.join`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ roomId }),
    });
    expect(joined.status).toBe(200);
    expect(((await joined.json()) as any).result.data.ticket).toBe(1);
    const got = await fetch(
      `${address}/trpc/waitingRoom.get?input=${encodeURIComponent(JSON.stringify({ roomId }))}`,
    );
    expect(got.headers.get('cache-control')).toBe('public, max-age=1');
    // A pass header over Node's header limit never reaches the API: 431, in tRPC's shape.
    const huge = await fetch(`${address}/trpc/coupon.issue`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'x-waiting-room-pass': 'p'.repeat(20_000),
      },
      body: JSON.stringify({ couponId }),
    });
    expect(huge.status).toBe(431);
    expect(((await huge.json()) as any).error.data.appCode).toBe('INVALID_INPUT');
    expect(((await got.json()) as any).result.data.joined).toBe(1);
  });
});
