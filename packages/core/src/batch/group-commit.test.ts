import { describe, expect, it } from 'vitest';
import { createGroupCommit, failed, ok, type Settled } from './group-commit.ts';

const tick = () => new Promise((r) => setImmediate(r));

describe('createGroupCommit', () => {
  it('hands items to commit in submission order, batch after batch, and answers each with its own result', async () => {
    const seen: number[][] = [];
    const gc = createGroupCommit<number, string>({
      maxBatch: 7,
      async commit(items) {
        seen.push(items);
        await tick();
        return items.map((i) => ok(`r${i}`));
      },
    });
    const all = Array.from({ length: 50 }, (_, i) => gc.submit(i));
    expect(await Promise.all(all)).toEqual(Array.from({ length: 50 }, (_, i) => `r${i}`));
    expect(seen.flat()).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(seen.every((b) => b.length <= 7)).toBe(true);
    expect(seen.length).toBe(Math.ceil(50 / 7));
  });

  it('collects the items of one event-loop turn into one batch', async () => {
    const sizes: number[] = [];
    const gc = createGroupCommit<number, number>({
      maxBatch: 1000,
      async commit(items) {
        sizes.push(items.length);
        return items.map((i) => ok(i));
      },
    });
    await Promise.all(Array.from({ length: 300 }, (_, i) => gc.submit(i)));
    expect(sizes).toEqual([300]);
  });

  it('fails only the item whose result failed; a commit that throws fails only its own batch', async () => {
    let batchNo = 0;
    const gc = createGroupCommit<number, number>({
      maxBatch: 10,
      async commit(items) {
        batchNo++;
        if (batchNo === 2) throw new Error('batch 2 broke');
        return items.map((i) => (i % 3 === 0 ? failed(new Error(`refused ${i}`)) : ok(i * 2)));
      },
    });
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => gc.submit(i)));
    for (const [i, r] of results.entries()) {
      if (i >= 10 && i < 20) {
        expect(r).toMatchObject({ status: 'rejected', reason: { message: 'batch 2 broke' } });
      } else if (i % 3 === 0) {
        expect(r).toMatchObject({ status: 'rejected', reason: { message: `refused ${i}` } });
      } else {
        expect(r).toEqual({ status: 'fulfilled', value: i * 2 });
      }
    }
  });

  it('rejects every item when commit returns the wrong number of results', async () => {
    const gc = createGroupCommit<number, number>({ commit: async () => [ok(1)] });
    const results = await Promise.allSettled([gc.submit(1), gc.submit(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('runs at most maxInFlight batches at once and lets the queue grow the next batch meanwhile', async () => {
    let running = 0;
    let most = 0;
    const sizes: number[] = [];
    const gc = createGroupCommit<number, number>({
      maxInFlight: 2,
      maxBatch: 50,
      async commit(items) {
        running++;
        most = Math.max(most, running);
        sizes.push(items.length);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return items.map((i) => ok(i));
      },
    });
    // 2,000 callers arriving over many turns: with both slots busy they queue, not multiply.
    const calls: Promise<number>[] = [];
    for (let turn = 0; turn < 40; turn++) {
      for (let i = 0; i < 50; i++) calls.push(gc.submit(turn * 50 + i));
      await tick();
    }
    expect((await Promise.all(calls)).length).toBe(2000);
    expect(most).toBe(2);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(50);
    // Batching happened: far fewer commits than items.
    expect(sizes.length).toBeLessThan(2000 / 10);
  });

  it('never puts two items with one key in one batch; a repeat keeps its place for a later batch', async () => {
    const batches: string[][] = [];
    const gc = createGroupCommit<string, string>({
      keyOf: (item) => (item === 'x' ? undefined : item),
      async commit(items) {
        batches.push(items);
        return items.map((i) => ok(i));
      },
    });
    await Promise.all(['a', 'b', 'a', 'x', 'c', 'a', 'x', 'b'].map((k) => gc.submit(k)));
    expect(batches).toEqual([['a', 'b', 'x', 'c', 'x'], ['a', 'b'], ['a']]);
  });

  it('holds an item back while a running batch holds its key, even with a free slot', async () => {
    const running = new Set<string>();
    const overlaps: string[] = [];
    const gc = createGroupCommit<string, string>({
      maxInFlight: 4,
      keyOf: (item) => item,
      async commit(items) {
        for (const i of items) {
          if (running.has(i)) overlaps.push(i);
          running.add(i);
        }
        await new Promise((r) => setTimeout(r, 5));
        for (const i of items) running.delete(i);
        return items.map((i) => ok(i));
      },
    });
    const calls: Promise<string>[] = [];
    for (let turn = 0; turn < 20; turn++) {
      calls.push(gc.submit('k'), gc.submit(`u${turn}`));
      await tick();
    }
    expect(await Promise.all(calls)).toHaveLength(40);
    expect(overlaps).toEqual([]);
  });

  it('answers when a promised value settles, after the slot was freed', async () => {
    const later = Promise.withResolvers<string>();
    const starts: number[][] = [];
    const gc = createGroupCommit<number, string>({
      async commit(items): Promise<Settled<string>[]> {
        starts.push(items);
        return items.map((i) => (i === 0 ? ok(later.promise) : ok(`now ${i}`)));
      },
    });
    const first = gc.submit(0);
    await tick();
    await tick();
    // The slot is free although item 0 is not answered yet: the next item commits.
    expect(await gc.submit(1)).toBe('now 1');
    let answered = false;
    void first.then(() => {
      answered = true;
    });
    await tick();
    expect(answered).toBe(false);
    later.resolve('after');
    expect(await first).toBe('after');
  });

  it('close drains queued and running batches, waits for late answers, then refuses', async () => {
    const later = Promise.withResolvers<number>();
    let committed = 0;
    let idle = 0;
    const gc = createGroupCommit<number, number>({
      maxBatch: 10,
      maxInFlight: 1,
      async commit(items) {
        await new Promise((r) => setTimeout(r, 2));
        committed += items.length;
        return items.map((i) => (i === 99 ? ok(later.promise) : ok(i)));
      },
      closedError: () => new Error('closed'),
      onIdle: () => idle++,
    });
    const calls = Array.from({ length: 100 }, (_, i) => gc.submit(i));
    let closed = false;
    const closing = gc.close().then(() => {
      closed = true;
    });
    await expect(gc.submit(1000)).rejects.toThrow('closed');
    // Everything was committed and answered but item 99, whose answer is promised for later.
    expect(await Promise.all(calls.slice(0, 99))).toHaveLength(99);
    expect(committed).toBe(100);
    await tick();
    // Item 99's answer is still out: close waits for it.
    expect(closed).toBe(false);
    later.resolve(99);
    await closing;
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(idle).toBeGreaterThan(0);
  });
});
