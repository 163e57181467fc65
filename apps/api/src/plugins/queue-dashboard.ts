/**
 * The BullMQ dashboard (bull-board) at `/admin/queues`, for admins only: operators see queue
 * depth, failed jobs with their errors and attempts, and retry them.
 *
 * Access needs an admin bearer token, checked by the API's own verifier. Scripts send it as
 * `Authorization: Bearer <JWT>`. A browser cannot set that header on a page load, so it opens
 * `/admin/queues?token=<JWT>` once: the token is checked, moved into an HttpOnly,
 * SameSite=Strict cookie scoped to `/admin/queues` that ends when the token expires, and the
 * browser is redirected to the same page without it, so the token does not stay in the
 * address bar or history. SameSite=Strict keeps other sites from riding on the cookie (the
 * dashboard's retry and clean actions are plain POST/PUT requests).
 *
 * A browser that opens the dashboard without a (valid, admin) token gets a short HTML page that
 * says how to sign in, with the same 401/403 status; other clients get the JSON refusal.
 */

import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { ALL_QUEUES, AppError, type AuthUser, type Runtime, type TokenVerifier } from '@flash/core';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';
const COOKIE = 'flash_admin_token';
/** A cookie outlives neither its token nor a working day. */
const MAX_COOKIE_SECONDS = 12 * 60 * 60;

export type QueueDashboardOptions = { runtime: Runtime; tokens: TokenVerifier };

function cookieToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function queryToken(req: FastifyRequest): string | undefined {
  const token = (req.query as Record<string, unknown> | undefined)?.token;
  return typeof token === 'string' ? token : undefined;
}

/** Seconds until the token's `exp` (already verified, so the payload is well-formed). */
function secondsLeft(token: string): number {
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as {
    exp: number;
  };
  return Math.max(0, Math.min(MAX_COOKIE_SECONDS, payload.exp - Math.floor(Date.now() / 1000)));
}

/** What a browser that opened the dashboard without an admin token is shown: how to sign in. */
function signInPage(status: 401 | 403): string {
  const problem =
    status === 401
      ? 'This page needs an admin token, and this browser has none (or it has expired).'
      : 'The token this browser signed in with is not an admin&#39;s.';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in: flash-sale queues</title>
<style>body{font-family:sans-serif;max-width:40em;margin:3em auto;line-height:1.5}code{background:#f3f3f3;padding:1px 4px}</style>
</head><body><h1>flash-sale queues: sign in</h1><p>${problem}</p>
<ol><li>Make an admin token where the service runs: <code>pnpm run token 1 --admin</code>
(it is signed with the service's <code>AUTH_JWT_SECRET</code>).</li>
<li>Open <code>${QUEUE_DASHBOARD_PATH}?token=&lt;the token&gt;</code> once. The token is moved into a
cookie for this page only and removed from the address bar.</li></ol>
<p>Scripts send <code>Authorization: Bearer &lt;token&gt;</code> instead.</p></body></html>`;
}

function deny(
  req: FastifyRequest,
  reply: FastifyReply,
  status: 401 | 403,
  appCode: 'UNAUTHORIZED' | 'FORBIDDEN',
) {
  if (status === 401) reply.header('www-authenticate', 'Bearer');
  reply.code(status).header('cache-control', 'no-store');
  // A browser navigating to a page asks for HTML first; the dashboard's own API calls and scripts do not.
  if (req.method === 'GET' && /^text\/html\b/.test(req.headers.accept ?? '')) {
    return reply.type('text/html; charset=utf-8').send(signInPage(status));
  }
  return reply.send({ error: { appCode } });
}

export const queueDashboardPlugin: FastifyPluginAsync<QueueDashboardOptions> = async (
  app,
  { runtime, tokens },
) => {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: ALL_QUEUES.map((name) => new BullMQAdapter(runtime.queues[name])),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'flash-sale queues' } },
  });

  // This plugin's own scope: the hook guards the dashboard's routes and nothing else.
  app.addHook('onRequest', async (req, reply) => {
    const fromQuery = req.method === 'GET' ? queryToken(req) : undefined;
    const fromCookie = cookieToken(req.headers.cookie);
    const header =
      fromQuery !== undefined
        ? `Bearer ${fromQuery}`
        : (req.headers.authorization ?? (fromCookie === undefined ? undefined : `Bearer ${fromCookie}`));
    let user: AuthUser;
    try {
      user = tokens.verify(header);
    } catch (err) {
      if (err instanceof AppError) return deny(req, reply, 401, 'UNAUTHORIZED');
      throw err;
    }
    if (!user.isAdmin) return deny(req, reply, 403, 'FORBIDDEN');
    if (fromQuery !== undefined) {
      const secure = req.protocol === 'https' ? '; Secure' : '';
      const url = new URL(req.url, 'http://localhost');
      url.searchParams.delete('token');
      return reply
        .code(303)
        .header(
          'set-cookie',
          `${COOKIE}=${fromQuery}; Path=${QUEUE_DASHBOARD_PATH}; Max-Age=${secondsLeft(fromQuery)}; HttpOnly; SameSite=Strict${secure}`,
        )
        .header('cache-control', 'no-store')
        .header('location', `${url.pathname}${url.search}`)
        .send();
    }
  });

  await app.register(serverAdapter.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
};
