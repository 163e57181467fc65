/**
 * One log line per request, written when the answer has gone out, in place of Fastify's two
 * (a LogController of our own, given to Fastify in server.ts): method, path (no query string: it may carry an input or
 * a credential), status, the appCode(s) of an error answer, and the time taken in ms.
 *
 * Polls that a storefront or a monitor sends every few seconds (`coupon.get`,
 * `waitingRoom.get`, `/metrics`, `/healthz`, `/readyz`) are logged at debug, so they do not
 * drown the lines that matter; one that fails with a 5xx is logged at info like any request.
 */
import { scrubUrl } from '@flash/core';
import { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { TRPC_PREFIX } from '../trpc/http-errors.ts';

const POLL_PATHS = new Set(['/metrics', '/healthz', '/readyz']);
const POLL_PROCEDURES = new Set(['coupon.get', 'waitingRoom.get']);

/** True for the polls above; a tRPC batch is a poll when every procedure in it is one. */
export function isPoll(path: string): boolean {
  if (POLL_PATHS.has(path)) return true;
  if (!path.startsWith(`${TRPC_PREFIX}/`)) return false;
  const procedures = path.slice(TRPC_PREFIX.length + 1).split(',');
  return procedures.every((p) => POLL_PROCEDURES.has(p));
}

const APP_CODE = /"appCode":"([A-Z_]+)"/g;

/** The appCodes in an error answer's body (a batch may carry several), joined by commas. */
function appCodesIn(payload: unknown): string | undefined {
  const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString() : '';
  const codes = [...new Set(Array.from(text.matchAll(APP_CODE), (m) => m[1]!))];
  return codes.length > 0 ? codes.join(',') : undefined;
}

declare module 'fastify' {
  interface FastifyReply {
    /** The appCode(s) of this answer, read from its body when it is an error (onSend). */
    appCode?: string;
  }
}

/** Reads the appCode(s) of error answers for the request line (see RequestLogController). */
export function registerRequestLog(app: FastifyInstance): void {
  // Callback style, not async: no promise per answer on the hot paths.
  app.addHook('onSend', (_req, reply, payload, done) => {
    // Successful answers carry no appCode; only error bodies (and mixed batches, 207) are read.
    if (reply.statusCode >= 400 || reply.statusCode === 207) reply.appCode = appCodesIn(payload);
    done(null, payload);
  });
}

/** Fastify's request log lines, one per request. */
export class RequestLogController extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    const url = req.raw.url ?? req.url;
    const q = url.indexOf('?');
    // A JWT sent in place of a path segment is not written down either.
    const path = scrubUrl(q < 0 ? url : url.slice(0, q));
    const status = reply.statusCode;
    const line = {
      method: req.method,
      path,
      status,
      ...(reply.appCode ? { appCode: reply.appCode } : {}),
      ms: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (error) reply.log.error({ ...line, err: error }, 'request');
    else if (status < 500 && isPoll(path)) reply.log.debug(line, 'request');
    else reply.log.info(line, 'request');
  }

  /** A 4xx from Fastify's default error handler is the request line's status; a 5xx is logged with its error. */
  override defaultErrorLog(error: Error, req: FastifyRequest, reply: FastifyReply): void {
    if (reply.statusCode >= 500)
      reply.log.error({ err: error, path: req.url.split('?', 1)[0] }, 'request failed');
  }

  /** The request line says 404. */
  override routeNotFound(): void {}
}
