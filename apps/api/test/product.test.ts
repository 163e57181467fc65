import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createTestServer, type TestServer } from '../../../test/support.ts';

describe('product.get, product.list, admin.product.create and admin.product.restock', () => {
  let s: TestServer;
  let admin: string;
  let user: string;
  beforeAll(async () => {
    s = await createTestServer();
    admin = await s.token(1, { admin: true });
    user = await s.token(2);
  });
  afterAll(() => s.cleanup());

  const create = async (input: unknown, token = admin) =>
    call(s.app, 'mutation', 'admin.product.create', input, token);
  const restock = async (input: unknown, token = admin) =>
    call(s.app, 'mutation', 'admin.product.restock', input, token);
  const get = (input: unknown) => call(s.app, 'query', 'product.get', input);
  const productCount = async () =>
    Number(
      (
        await s.rt.db
          .selectFrom('products')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('creates a product and gets it back, without a token', async () => {
    const created = await create({ name: '  Coffee  ', price: 4500, stock: 30 });
    expect(created.status).toBe(200);
    const product = created.body.result.data;
    expect(product).toEqual({
      id: expect.any(Number),
      name: 'Coffee',
      price: 4500,
      stock: 30,
      imageUrl: null,
    });
    expect(await get({ productId: product.id })).toEqual({
      status: 200,
      body: { result: { data: product } },
    });
  });

  it('keeps an optional imageUrl: an https URL or a path on this origin, shown by get and list', async () => {
    for (const imageUrl of ['https://cdn.example.com/p/keyboard.webp', '/images/keyboard.webp']) {
      const created = await create({ name: 'Pictured', price: 100, stock: 1, imageUrl });
      expect(created.status).toBe(200);
      const product = created.body.result.data;
      expect(product.imageUrl).toBe(imageUrl);
      expect((await get({ productId: product.id })).body.result.data.imageUrl).toBe(imageUrl);
      const page = await call(s.app, 'query', 'product.list', { cursor: product.id - 1, limit: 1 });
      expect(page.body.result.data.items).toEqual([product]);
    }
  });

  it.each([
    ['plain http', 'http://cdn.example.com/a.png'],
    ['a script URL', 'javascript:alert(1)'],
    ['a data URL', 'data:image/png;base64,AAAA'],
    ['another host without a scheme', '//evil.example.com/a.png'],
    ['a relative path', 'images/a.png'],
    ['a path with a space', '/images/a b.png'],
    ['too long', `https://cdn.example.com/${'a'.repeat(2048)}`],
  ])('refuses an imageUrl that is %s, creating nothing', async (_, imageUrl) => {
    const before = await productCount();
    const res = await create({ name: 'Bad picture', price: 100, stock: 1, imageUrl });
    expect(res.status).toBe(400);
    expect(res.body.error.data.appCode).toBe('INVALID_INPUT');
    expect(await productCount()).toBe(before);
  });

  it('answers an unknown product with 404 PRODUCT_NOT_FOUND', async () => {
    const res = await get({ productId: 123_456 });
    expect(res.status).toBe(404);
    expect(res.body.error.data).toMatchObject({
      code: 'NOT_FOUND',
      appCode: 'PRODUCT_NOT_FOUND',
      productId: 123_456,
    });
  });

  it.each([
    ['a string id', { productId: 'abc' }],
    ['a numeric string id', { productId: '1' }],
    ['a fractional id', { productId: 1.5 }],
    ['zero', { productId: 0 }],
    ['a negative id', { productId: -1 }],
    ['an id beyond safe integers', { productId: 2 ** 60 }],
    ['a missing id', {}],
    ['no input', undefined],
    ['an unknown key', { productId: 1, extra: true }],
  ])('answers a malformed id (%s) with 400 INVALID_INPUT', async (_name, input) => {
    const res = await get(input);
    expect(res.status).toBe(400);
    expect(res.body.error.data.appCode).toBe('INVALID_INPUT');
  });

  describe('admin.product.create refuses bad input and changes nothing', () => {
    it.each([
      ['an empty name', { name: '', price: 1, stock: 1 }],
      ['a blank name', { name: '   ', price: 1, stock: 1 }],
      ['a 201-character name', { name: 'n'.repeat(201), price: 1, stock: 1 }],
      ['a negative price', { name: 'x', price: -1, stock: 1 }],
      ['a fractional price', { name: 'x', price: 1.5, stock: 1 }],
      ['a string price', { name: 'x', price: '100', stock: 1 }],
      ['a price over the limit', { name: 'x', price: 1_000_000_001, stock: 1 }],
      ['a negative stock', { name: 'x', price: 1, stock: -1 }],
      ['a fractional stock', { name: 'x', price: 1, stock: 0.5 }],
      ['a missing stock', { name: 'x', price: 1 }],
      ['an unknown key', { name: 'x', price: 1, stock: 1, id: 5 }],
    ])('%s', async (_name, input) => {
      const before = await productCount();
      const res = await create(input);
      expect(res.status).toBe(400);
      expect(res.body.error.data.appCode).toBe('INVALID_INPUT');
      expect(await productCount()).toBe(before);
    });

    it('without a token (401) or as a non-admin (403)', async () => {
      const before = await productCount();
      expect(
        (await call(s.app, 'mutation', 'admin.product.create', { name: 'x', price: 1, stock: 1 })).status,
      ).toBe(401);
      const forbidden = await create({ name: 'x', price: 1, stock: 1 }, user);
      expect(forbidden.status).toBe(403);
      expect(forbidden.body.error.data.appCode).toBe('FORBIDDEN');
      expect(await productCount()).toBe(before);
    });
  });

  describe('admin.product.restock', () => {
    it('adds units and returns the product with its live stock', async () => {
      const product = (await create({ name: 'Tea', price: 3000, stock: 2 })).body.result.data;
      const res = await restock({ productId: product.id, quantity: 5 });
      expect(res.status).toBe(200);
      expect(res.body.result.data).toEqual({ ...product, stock: 7 });
      expect((await get({ productId: product.id })).body.result.data.stock).toBe(7);
    });

    it('answers an unknown product with 404', async () => {
      const res = await restock({ productId: 777_777, quantity: 1 });
      expect(res.status).toBe(404);
      expect(res.body.error.data.appCode).toBe('PRODUCT_NOT_FOUND');
    });

    it.each([
      ['zero', 0],
      ['negative', -3],
      ['fractional', 1.5],
      ['a string', '5'],
      ['over the limit', 10_000_001],
    ])('refuses a %s quantity and changes nothing', async (_name, quantity) => {
      const product = (await create({ name: 'Mug', price: 9000, stock: 1 })).body.result.data;
      const res = await restock({ productId: product.id, quantity });
      expect(res.status).toBe(400);
      expect(res.body.error.data.appCode).toBe('INVALID_INPUT');
      expect((await get({ productId: product.id })).body.result.data.stock).toBe(1);
    });

    it('is admin only', async () => {
      const product = (await create({ name: 'Pen', price: 900, stock: 1 })).body.result.data;
      const res = await restock({ productId: product.id, quantity: 5 }, user);
      expect(res.status).toBe(403);
      expect((await get({ productId: product.id })).body.result.data.stock).toBe(1);
    });
  });

  describe('product.list', () => {
    it('visits every product exactly once across pages', async () => {
      for (let i = 0; i < 30; i++) await create({ name: `item-${i}`, price: 100 + i, stock: i });
      const all = await s.rt.db
        .selectFrom('products')
        .select(['id', 'name', 'price'])
        .orderBy('id')
        .execute();
      const seen: { id: number; name: string; price: number; stock: number }[] = [];
      let cursor: number | null = null;
      do {
        const input: { limit: number; cursor?: number } =
          cursor === null ? { limit: 7 } : { limit: 7, cursor };
        const res = await call(s.app, 'query', 'product.list', input);
        expect(res.status).toBe(200);
        const page = res.body.result.data;
        expect(page.items.length).toBeLessThanOrEqual(7);
        seen.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen.map(({ id, name, price }) => ({ id, name, price }))).toEqual(all);
      expect(new Set(seen.map((p) => p.id)).size).toBe(all.length);
    });

    it('defaults to 20 items and accepts no input at all', async () => {
      const res = await call(s.app, 'query', 'product.list');
      expect(res.status).toBe(200);
      expect(res.body.result.data.items).toHaveLength(20);
    });

    it.each([
      ['limit 0', { limit: 0 }],
      ['limit 101', { limit: 101 }],
      ['a fractional limit', { limit: 2.5 }],
      ['a negative cursor', { cursor: -1 }],
      ['a string cursor', { cursor: 'abc' }],
      ['an unknown key', { page: 2 }],
    ])('refuses %s', async (_name, input) => {
      const res = await call(s.app, 'query', 'product.list', input);
      expect(res.status).toBe(400);
      expect(res.body.error.data.appCode).toBe('INVALID_INPUT');
    });
  });
});
