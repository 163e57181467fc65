import { describe, expect, it } from 'vitest';
import { createPerKeyLimiter } from './per-key-limiter.ts';

describe('createPerKeyLimiter', () => {
  it('runs at most N tasks per key at once, in arrival order, and other keys freely', async () => {
    const limit = createPerKeyLimiter(2);
    const running = new Map<string, number>();
    const peak = new Map<string, number>();
    const started: string[] = [];
    const task = (key: string, id: string) =>
      limit(key, async () => {
        started.push(id);
        running.set(key, (running.get(key) ?? 0) + 1);
        peak.set(key, Math.max(peak.get(key) ?? 0, running.get(key)!));
        await new Promise((r) => setTimeout(r, 5));
        running.set(key, running.get(key)! - 1);
        return id;
      });
    const ids = Array.from({ length: 20 }, (_, i) => `a${i}`);
    const results = await Promise.all([...ids.map((id) => task('a', id)), task('b', 'b0'), task('b', 'b1')]);
    expect(results).toEqual([...ids, 'b0', 'b1']);
    expect(peak.get('a')).toBe(2);
    expect(peak.get('b')).toBe(2);
    expect(started.filter((id) => id.startsWith('a'))).toEqual(ids);
  });

  it('passes failures through and keeps going', async () => {
    const limit = createPerKeyLimiter(1);
    const failing = limit(1, async () => {
      throw new Error('boom');
    });
    const next = limit(1, async () => 'ok');
    await expect(failing).rejects.toThrow('boom');
    expect(await next).toBe('ok');
  });
});
