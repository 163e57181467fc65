import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { z } from 'zod';

/** Used only when NODE_ENV is not `production`, so local runs and tests need no setup. */
export const DEV_JWT_SECRET = 'flash-sale-dev-secret-do-not-use-in-production';

const ZPort = z.coerce.number().int().min(0).max(65535);
const ZUrl = (protocols: string[]) =>
  z.url().refine((value) => protocols.some((p) => value.startsWith(`${p}:`)), {
    message: `must start with ${protocols.map((p) => `${p}://`).join(' or ')}`,
  });

/** Requests per second, fractions allowed (0.5 = one every two seconds); 0 = no limit. */
const ZRate = z.coerce.number().min(0).max(1_000_000);
const ZBurst = z.coerce.number().int().min(1).max(10_000_000);

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90`, `90s`, `15m`, `24h`, `7d` as whole seconds; undefined for anything else (or zero). */
export function parseDurationSeconds(text: string): number | undefined {
  const match = /^(\d{1,9})(s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]) * DURATION_UNITS[match[2] ?? 's']!;
  return seconds > 0 ? seconds : undefined;
}

const ZDuration = z.string().transform((value, ctx) => {
  const seconds = parseDurationSeconds(value);
  if (seconds === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as 3600, 90m, 24h or 7d' });
    return z.NEVER;
  }
  return seconds;
});

export type RedisNode = { host: string; port: number };

/** How many replicas must acknowledge a hot-path write before it is answered, and for how long to wait. */
export type ReplicaWait = { replicas: number; timeoutMs: number };

export type TrustProxy = boolean | string[];

/** One limit: `perSecond` sustained, up to `burst` at once; `perSecond: 0` = unlimited. */
export type RateLimit = { perSecond: number; burst: number };

/** A process count: a positive integer, or `auto` for the number of cores this process may use. */
const ZProcesses = z
  .string()
  .default('1')
  .transform((value, ctx) => {
    const v = value.trim().toLowerCase();
    if (v === 'auto') return availableParallelism();
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 256) {
      ctx.addIssue({ code: 'custom', message: 'expected a whole number from 1 to 256, or auto' });
      return z.NEVER;
    }
    return n;
  });

const ZEnv = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: ZPort.default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  REDIS_URL: ZUrl(['redis', 'rediss']).default('redis://127.0.0.1:6379'),
  /** Prefix for every Redis key this service writes (lets test runs and tenants share one Redis). */
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]*$/, 'may only contain letters, digits, ":", "_" and "-"')
    .default('fs:'),
  /**
   * Seed nodes of a Redis Cluster (`host:port,host:port,…`). When set it replaces REDIS_URL for
   * everything: API, worker, BullMQ and the CLI tools.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .transform((value, ctx): RedisNode[] => {
      const nodes = value
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean)
        .map((n) => /^(?<host>\[[^\]]+\]|[^:]+):(?<port>\d{1,5})$/.exec(n)?.groups);
      if (nodes.length === 0 || nodes.some((n) => !n || Number(n.port) < 1 || Number(n.port) > 65535)) {
        ctx.addIssue({ code: 'custom', message: 'expected comma-separated host:port seed nodes' });
        return z.NEVER;
      }
      return nodes.map((n) => ({ host: n!.host!.replace(/^\[|\]$/g, ''), port: Number(n!.port) }));
    })
    .optional(),
  /**
   * Replicas that must acknowledge a coupon issuance or stock hold (Redis `WAIT`) before it is
   * answered; 0 answers at once (replication is asynchronous: a failover can lose the answer).
   */
  REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(16).default(0),
  /**
   * How long such an answer waits for the replicas before it is `UNAVAILABLE` (and reconciled).
   * Below the 3 s command deadline of request connections (redis/client.ts), which would
   * otherwise cut the wait off without the reconciliation.
   */
  REDIS_WAIT_TIMEOUT_MS: z.coerce.number().int().min(1).max(2000).default(500),
  DATABASE_URL: ZUrl(['postgres', 'postgresql']).default('postgres://postgres@127.0.0.1:5432/ecommerce'),
  AUTH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /**
   * The longest lifetime (`exp − iat`) a bearer token may have; a longer one is refused, so a
   * leaked long-lived token is not honoured for its whole life.
   */
  AUTH_MAX_TOKEN_TTL: ZDuration.default(24 * 3600),
  /**
   * HMAC key of waiting-room passes (packages/core/src/waiting-room/pass.ts). Unset: derived
   * from AUTH_JWT_SECRET (a separate key all the same, so a pass can never pass for a token).
   * Every API process must share it; changing it voids the passes handed out.
   */
  WAITING_ROOM_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  ORDER_HOLD_SECONDS: z.coerce.number().int().positive().default(900),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Where paid orders are exported; when unset the export worker only logs them. */
  DATA_PLATFORM_URL: ZUrl(['http', 'https']).optional(),
  /** Comma-separated browser origins allowed by CORS; empty means none. */
  CORS_ORIGINS: z.string().default(''),
  /**
   * Per-procedure limits on coupon.issue, order.create, payment.pay and balance.charge (GCRA:
   * a sustained rate plus a burst). 0 turns that limit off. The per-user burst is wide because
   * clients legitimately retry and fire concurrent idempotent calls; the sustained rate is what
   * stops a flood. The per-IP numbers must let a whole office or carrier NAT join a flash sale.
   */
  RATE_LIMIT_USER_PER_SEC: ZRate.default(20),
  RATE_LIMIT_USER_BURST: ZBurst.default(1000),
  RATE_LIMIT_IP_PER_SEC: ZRate.default(1000),
  RATE_LIMIT_IP_BURST: ZBurst.default(10_000),
  /**
   * Which proxies may set X-Forwarded-For / X-Forwarded-Proto (Fastify's `trustProxy`): `false`
   * (default: the socket address is the client), `true` (any: only behind a proxy that always
   * overwrites the header), or comma-separated proxy addresses/CIDRs, where `loopback`,
   * `linklocal` and `uniquelocal` name the private ranges. Fastify refuses hop counts (a
   * client could forge enough hops), so they are not offered.
   */
  /** API processes sharing the one port (cluster.ts); `auto` = one per core. */
  API_PROCESSES: ZProcesses,
  /** Worker processes, each draining every queue with the concurrency its definition states. */
  WORKER_PROCESSES: ZProcesses,
  TRUST_PROXY: z
    .string()
    .default('false')
    .transform((value, ctx): TrustProxy => {
      const v = value.trim().toLowerCase();
      if (v === 'false') return false;
      if (v === 'true') return true;
      const list = value
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean);
      const valid = (a: string) => {
        if (/^(loopback|linklocal|uniquelocal)$/.test(a)) return true;
        const [address = '', bits, ...rest] = a.split('/');
        const family = isIP(address);
        if (family === 0 || rest.length > 0) return false;
        return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
      };
      if (list.length === 0 || !list.every(valid)) {
        ctx.addIssue({
          code: 'custom',
          message: 'expected true, false or comma-separated proxy addresses/CIDRs',
        });
        return z.NEVER;
      }
      return list;
    }),
});

export type Config = {
  nodeEnv: 'development' | 'test' | 'production';
  port: number;
  host: string;
  redisUrl: string;
  redisKeyPrefix: string;
  /** Set when the service runs on a Redis Cluster; `redisUrl` is then unused. */
  redisClusterNodes: RedisNode[] | undefined;
  /** REDIS_WAIT_REPLICAS and REDIS_WAIT_TIMEOUT_MS (redis/replica-wait.ts). */
  redisWait: ReplicaWait;
  databaseUrl: string;
  jwtSecret: string;
  /** WAITING_ROOM_SECRET, or a key derived from jwtSecret. */
  waitingRoomPassSecret: string;
  /** AUTH_MAX_TOKEN_TTL in seconds. */
  maxTokenTtlSeconds: number;
  orderHoldSeconds: number;
  logLevel: z.infer<typeof ZEnv>['LOG_LEVEL'];
  dataPlatformUrl: string | undefined;
  corsOrigins: string[];
  rateLimit: { user: RateLimit; ip: RateLimit };
  trustProxy: TrustProxy;
  apiProcesses: number;
  workerProcesses: number;
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses the environment once at start-up. Every problem is reported as one line naming the
 * variable, so an operator can fix a bad deployment without reading code.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset" in most deployment tools; treat them so.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = ZEnv.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? 'environment');
      const value = env[variable];
      return `Invalid environment variable ${variable}${value === undefined ? '' : `=${JSON.stringify(value)}`}: ${issue.message}`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  const e = parsed.data;
  let jwtSecret = e.AUTH_JWT_SECRET;
  if (jwtSecret === undefined) {
    if (e.NODE_ENV === 'production') {
      throw new ConfigError(
        'Invalid environment variable AUTH_JWT_SECRET: required when NODE_ENV=production',
      );
    }
    jwtSecret = DEV_JWT_SECRET;
  }
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    redisClusterNodes: e.REDIS_CLUSTER_NODES,
    redisWait: { replicas: e.REDIS_WAIT_REPLICAS, timeoutMs: e.REDIS_WAIT_TIMEOUT_MS },
    databaseUrl: e.DATABASE_URL,
    jwtSecret,
    waitingRoomPassSecret:
      e.WAITING_ROOM_SECRET ??
      createHmac('sha256', jwtSecret).update('flash-sale waiting-room pass key').digest('base64url'),
    maxTokenTtlSeconds: e.AUTH_MAX_TOKEN_TTL,
    orderHoldSeconds: e.ORDER_HOLD_SECONDS,
    logLevel: e.LOG_LEVEL,
    dataPlatformUrl: e.DATA_PLATFORM_URL,
    corsOrigins: e.CORS_ORIGINS.split(',')
      .map((o) => o.trim())
      .filter(Boolean),
    rateLimit: {
      user: { perSecond: e.RATE_LIMIT_USER_PER_SEC, burst: e.RATE_LIMIT_USER_BURST },
      ip: { perSecond: e.RATE_LIMIT_IP_PER_SEC, burst: e.RATE_LIMIT_IP_BURST },
    },
    trustProxy: e.TRUST_PROXY,
    apiProcesses: e.API_PROCESSES,
    workerProcesses: e.WORKER_PROCESSES,
  };
}
