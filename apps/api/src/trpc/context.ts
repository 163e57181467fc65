import type { Runtime, TokenVerifier } from '@flash/core';
import type { CreateFastifyContextOptions } from '@trpc/server/adapters/fastify';
import type { FastifyBaseLogger } from 'fastify';

export type Context = {
  rt: Runtime;
  tokens: TokenVerifier;
  authorization: string | undefined;
  requestId: string;
  ip: string;
  log: FastifyBaseLogger;
};

export function contextFactory(rt: Runtime, tokens: TokenVerifier) {
  return ({ req }: CreateFastifyContextOptions): Context => ({
    rt,
    tokens,
    authorization: req.headers.authorization,
    requestId: req.id,
    ip: req.ip,
    log: req.log,
  });
}
