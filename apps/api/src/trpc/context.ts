import type { Runtime, TokenVerifier, WaitingRoomDirectory } from '@flash/core';
import type { CreateFastifyContextOptions } from '@trpc/server/adapters/fastify';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';

export type Context = {
  rt: Runtime;
  tokens: TokenVerifier;
  authorization: string | undefined;
  /** `X-Waiting-Room-Pass`, read only by guarded calls (guards.ts). */
  waitingRoomPass: string | undefined;
  /** Which coupons and products the waiting rooms guard (built once in server.ts). */
  rooms: WaitingRoomDirectory;
  requestId: string;
  ip: string;
  log: FastifyBaseLogger;
  /** For the few answers that set a header of their own (publicCache). */
  reply: FastifyReply;
  /** One call of a `?batch=1` request: its answer shares the response with the others. */
  batch: boolean;
};

export function contextFactory(rt: Runtime, tokens: TokenVerifier, rooms: WaitingRoomDirectory) {
  return ({ req, res, info }: CreateFastifyContextOptions): Context => {
    const pass = req.headers['x-waiting-room-pass'];
    return {
      rt,
      tokens,
      authorization: req.headers.authorization,
      // Sent twice, Node joins it into one string (which no pass matches): refused as malformed.
      waitingRoomPass: Array.isArray(pass) ? pass.join(', ') : pass,
      rooms,
      requestId: req.id,
      ip: req.ip,
      log: req.log,
      reply: res,
      batch: info.isBatchCall,
    };
  };
}

/**
 * Lets shared caches (a CDN in front of the API) keep this answer for `seconds`: only for a
 * call alone in its request, since a batch's response carries other callers' answers too.
 */
export function publicCache(ctx: Context, seconds: number): void {
  if (!ctx.batch) ctx.reply.header('cache-control', `public, max-age=${seconds}`);
}
