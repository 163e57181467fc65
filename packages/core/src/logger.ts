import { type Logger, type LoggerOptions, pino, stdSerializers } from 'pino';
import { ConfigError } from './config.ts';
import { StoreUnavailableError } from './store-check.ts';

/**
 * One log format for every process (API, worker, migrate): pino's JSON lines on stdout, one
 * object per line, with `name` saying which process wrote it.
 *
 * No credential may reach a log line at any level. Three layers keep it so:
 * - `redact` blanks the places a credential lives in a logged object (headers, cookies, a
 *   Node parser error's raw bytes), whoever logs them;
 * - the request serializer scrubs the URL, because the queue dashboard's browser sign-in
 *   carries the token in its query string (`/admin/queues?token=<JWT>`), and a request URL is
 *   logged for every request;
 * - the error serializer scrubs anything shaped like a JWT from messages and stacks.
 */

export const REDACTED = '[Redacted]';

/** Query parameters whose value is a credential, on any route. */
const SECRET_PARAM =
  /^(token|access_token|id_token|refresh_token|jwt|auth|authorization|api_?key|secret|password|session)$/i;

/** A compact JWS anywhere in a string: three base64url segments, the first a JSON object (`eyJ`). */
const JWT = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;

const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  // A waiting-room pass is a credential too (bound to its user, but valid until it expires).
  'req.headers["x-waiting-room-pass"]',
  'headers["x-waiting-room-pass"]',
  'authorization',
  'cookie',
  'token',
  '*.token',
  // Node's HTTP parser errors (431, malformed requests) carry the raw request bytes.
  'err.rawPacket',
  'error.rawPacket',
];

/** A URL fit for a log line: credentials in its query string, and JWTs anywhere, replaced. */
export function scrubUrl(url: string): string {
  const scrubbed = url.replace(JWT, REDACTED);
  const q = scrubbed.indexOf('?');
  if (q < 0) return scrubbed;
  const params = scrubbed
    .slice(q + 1)
    .split('&')
    .map((param) => {
      const eq = param.indexOf('=');
      if (eq < 0) return param;
      let name = param.slice(0, eq);
      try {
        name = decodeURIComponent(name);
      } catch {
        // A malformed escape is logged as it came.
      }
      return SECRET_PARAM.test(name) ? `${param.slice(0, eq)}=${REDACTED}` : param;
    });
  return `${scrubbed.slice(0, q)}?${params.join('&')}`;
}

type LoggedRequest = {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  headers?: Record<string, unknown>;
  socket?: { remotePort?: number };
};

/** Fastify's own request serializer, with the URL scrubbed. */
function serializeRequest(req: LoggedRequest) {
  return {
    method: req.method,
    url: req.url === undefined ? undefined : scrubUrl(req.url),
    version: req.headers?.['accept-version'],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

function serializeError(err: Error) {
  const out = stdSerializers.err(err);
  if (typeof out.message === 'string') out.message = out.message.replace(JWT, REDACTED);
  if (typeof out.stack === 'string') out.stack = out.stack.replace(JWT, REDACTED);
  return out;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** pino options for a process called `name`; Fastify takes the same object as its `logger`. */
export function loggerOptions(name: string, level: LogLevel): LoggerOptions {
  return {
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    serializers: { req: serializeRequest, err: serializeError },
  };
}

/** A logger writing to stdout, or to `destination` (which receives one JSON line per call). */
export function createLogger(
  name: string,
  level: LogLevel = 'info',
  destination?: { write(line: string): void },
): Logger {
  return destination ? pino(loggerOptions(name, level), destination) : pino(loggerOptions(name, level));
}

/**
 * For a process's start-up and shutdown lines ("listening on …", "worker draining …",
 * "shutting down …"): written at info even when LOG_LEVEL is quieter (`warn` for benchmarks and
 * tests), because supervisors, `pnpm start`'s tests and the benchmark runner wait for them.
 * Only `silent` silences them.
 */
export function createLifecycleLogger(name: string, level: LogLevel): Logger {
  const verbose = ['debug', 'trace'].includes(level);
  return createLogger(name, level === 'silent' ? 'silent' : verbose ? level : 'info');
}

/**
 * Why a process could not start, then exit code 1. A bad setting or a store that does not
 * answer is one line each; anything else is logged with its error.
 */
export function exitOnStartupError(log: Logger, err: unknown): never {
  if (err instanceof ConfigError || err instanceof StoreUnavailableError) {
    for (const line of err.message.split('\n')) log.fatal(line);
  } else log.fatal({ err }, 'could not start');
  process.exit(1);
}

export type { Logger } from 'pino';
