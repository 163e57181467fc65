import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_JWT_SECRET, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      redisUrl: 'redis://127.0.0.1:6379',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/ecommerce',
      orderHoldSeconds: 900,
      jwtSecret: DEV_JWT_SECRET,
    });
  });

  it('reads REDIS_WAIT_REPLICAS (default 0: answers never wait) and its timeout (default 500 ms)', () => {
    expect(loadConfig({}).redisWait).toEqual({ replicas: 0, timeoutMs: 500 });
    expect(loadConfig({ REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '250' }).redisWait).toEqual({
      replicas: 1,
      timeoutMs: 250,
    });
  });

  it('reads WAITING_ROOM_SECRET, or derives a key of its own from AUTH_JWT_SECRET', () => {
    const derived = loadConfig({}).waitingRoomPassSecret;
    expect(derived).not.toBe(DEV_JWT_SECRET);
    expect(derived.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({ AUTH_JWT_SECRET: 'x'.repeat(32) }).waitingRoomPassSecret).not.toBe(derived);
    const own = 'p'.repeat(40);
    expect(loadConfig({ WAITING_ROOM_SECRET: own }).waitingRoomPassSecret).toBe(own);
    expect(() => loadConfig({ WAITING_ROOM_SECRET: 'short' })).toThrow(
      /WAITING_ROOM_SECRET="short": must be at least 32 characters/,
    );
  });

  it('coerces numbers from strings', () => {
    expect(loadConfig({ PORT: '8080', ORDER_HOLD_SECONDS: '60' })).toMatchObject({
      port: 8080,
      orderHoldSeconds: 60,
    });
  });

  it('reads AUTH_MAX_TOKEN_TTL as a duration (default 24 h)', () => {
    expect(loadConfig({}).maxTokenTtlSeconds).toBe(86_400);
    expect(loadConfig({ AUTH_MAX_TOKEN_TTL: '90m' }).maxTokenTtlSeconds).toBe(5_400);
    expect(loadConfig({ AUTH_MAX_TOKEN_TTL: '3600' }).maxTokenTtlSeconds).toBe(3_600);
    expect(loadConfig({ AUTH_MAX_TOKEN_TTL: '7d' }).maxTokenTtlSeconds).toBe(604_800);
  });

  it.each([
    ['AUTH_MAX_TOKEN_TTL', 'banana'],
    ['AUTH_MAX_TOKEN_TTL', '0'],
    ['AUTH_MAX_TOKEN_TTL', '-1h'],
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['ORDER_HOLD_SECONDS', '0'],
    ['ORDER_HOLD_SECONDS', '1.5'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['DATABASE_URL', 'not a url'],
    ['AUTH_JWT_SECRET', 'short'],
    ['NODE_ENV', 'staging'],
    ['REDIS_WAIT_REPLICAS', '-1'],
    ['REDIS_WAIT_REPLICAS', 'one'],
    ['REDIS_WAIT_REPLICAS', '1.5'],
    ['REDIS_WAIT_TIMEOUT_MS', '0'],
    ['REDIS_WAIT_TIMEOUT_MS', '3000'],
  ])('names %s when it is %j', (variable, value) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [variable]: value })).toThrow(
      new RegExp(
        `^Invalid environment variable ${variable}=${JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `,
      ),
    );
  });

  it('reports every bad variable, one line each', () => {
    try {
      loadConfig({ PORT: 'x', ORDER_HOLD_SECONDS: '-1' });
      expect.unreachable();
    } catch (err) {
      const lines = (err as Error).message.split('\n');
      expect(lines).toHaveLength(2);
      expect(lines.some((l) => l.includes('PORT'))).toBe(true);
      expect(lines.some((l) => l.includes('ORDER_HOLD_SECONDS'))).toBe(true);
    }
  });

  it('requires AUTH_JWT_SECRET in production, and never falls back to the dev secret there', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(
      /AUTH_JWT_SECRET: required when NODE_ENV=production/,
    );
    const secret = 'x'.repeat(40);
    expect(loadConfig({ NODE_ENV: 'production', AUTH_JWT_SECRET: secret }).jwtSecret).toBe(secret);
  });

  it('reads rate limits (0 = off) and trusted proxies', () => {
    expect(loadConfig({})).toMatchObject({
      rateLimit: { user: { perSecond: 20, burst: 1000 }, ip: { perSecond: 1000, burst: 10_000 } },
      trustProxy: false,
    });
    expect(
      loadConfig({
        RATE_LIMIT_USER_PER_SEC: '0.5',
        RATE_LIMIT_USER_BURST: '3',
        RATE_LIMIT_IP_PER_SEC: '0',
        TRUST_PROXY: '10.0.0.0/8, 192.168.1.1,loopback',
      }),
    ).toMatchObject({
      rateLimit: { user: { perSecond: 0.5, burst: 3 }, ip: { perSecond: 0, burst: 10_000 } },
      trustProxy: ['10.0.0.0/8', '192.168.1.1', 'loopback'],
    });
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
  });

  it.each([
    ['RATE_LIMIT_USER_PER_SEC', '-1'],
    ['RATE_LIMIT_IP_PER_SEC', 'fast'],
    ['RATE_LIMIT_USER_BURST', '0'],
    ['RATE_LIMIT_IP_BURST', '2.5'],
    ['TRUST_PROXY', 'yes please'],
    ['TRUST_PROXY', '2'],
    ['TRUST_PROXY', '10.0.0.0/33'],
  ])('refuses %s=%j', (variable, value) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(
      new RegExp(`^Invalid environment variable ${variable}=`),
    );
  });

  it('reads process counts: 1 by default, a whole number, or auto for every core', async () => {
    const { availableParallelism } = await import('node:os');
    expect(loadConfig({})).toMatchObject({ apiProcesses: 1, workerProcesses: 1 });
    expect(loadConfig({ API_PROCESSES: '4', WORKER_PROCESSES: 'auto' })).toMatchObject({
      apiProcesses: 4,
      workerProcesses: availableParallelism(),
    });
    for (const bad of ['0', '-1', '1.5', 'all', '1000']) {
      expect(() => loadConfig({ API_PROCESSES: bad })).toThrow(/API_PROCESSES/);
    }
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '' }).port).toBe(3000);
  });
});
