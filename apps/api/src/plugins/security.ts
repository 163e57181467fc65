/**
 * Browser-facing protections: security headers on every answer and CORS for the origins in
 * CORS_ORIGINS only (@fastify/cors). Call it before any route is added, so its hooks sit at the
 * root and cover /trpc, /healthz, /readyz, /metrics, the dashboard and 404s.
 *
 * Two header sets, by what the answer is. JSON answers get OWASP's set for REST APIs (REST
 * Security Cheat Sheet, "Security Headers"); the dashboard, the one HTML page, gets helmet's
 * set for documents. Helmet's other headers (Origin-Agent-Cluster, Cross-Origin-Opener-Policy,
 * Referrer-Policy, X-DNS-Prefetch-Control, X-Download-Options, X-Permitted-Cross-Domain-Policies,
 * X-XSS-Protection) act on documents a browser renders, and a JSON answer is never one of those.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from '@fastify/cors';
import type { Config } from '@flash/core';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { QUEUE_DASHBOARD_PATH } from './queue-dashboard.ts';

/** The API answers JSON only: nothing it sends may load, run, embed or be embedded. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * bull-board's page: its own scripts and styles, its inline style attributes, the Google font
 * its page links, its JSON calls to itself; never framed.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
  "font-src 'self' data: https://fonts.gstatic.com",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Two years, the preload list's floor; sent on HTTPS only (browsers ignore it on plain HTTP). */
const HSTS = 'max-age=63072000; includeSubDomains';

/**
 * Every JSON answer: never cached (balances, orders and coupons are per-user and change), never
 * sniffed as anything but its content type, never framed, never read by another origin's
 * no-cors request.
 */
export const API_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'content-security-policy': API_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
};

const CORS_HEADERS = ['authorization', 'content-type', 'trpc-accept', 'x-trpc-source'];

const HELMET_OPTIONS: HelmetOptions = {
  // Set per request below: the policy depends on the path, HSTS on the scheme.
  contentSecurityPolicy: false,
  strictTransportSecurity: false,
  xFrameOptions: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
};

/**
 * The headers helmet sets with these options, worked out once. They do not depend on the
 * request, and @fastify/helmet builds helmet's whole middleware again on every request, which
 * showed in every hot call's profile.
 */
export function helmetHeaders(options: HelmetOptions = HELMET_OPTIONS): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
  });
  return headers;
}

export async function registerSecurity(app: FastifyInstance, config: Config): Promise<void> {
  const dashboardHeaders = { ...helmetHeaders(), 'content-security-policy': DASHBOARD_CSP };
  app.addHook('onRequest', (req, reply, done) => {
    reply.headers(req.url.startsWith(QUEUE_DASHBOARD_PATH) ? dashboardHeaders : API_HEADERS);
    // `https` from the socket, or from X-Forwarded-Proto when TRUST_PROXY trusts the proxy.
    if (req.protocol === 'https') reply.header('strict-transport-security', HSTS);
    done();
  });

  // RATE_LIMITED carries retryAfterMs in its body; say it the standard way too (RFC 9110
  // Retry-After, whole seconds). Only single calls answer 429 as a whole; a batch answers 207.
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (reply.statusCode === 429 && typeof payload === 'string') {
      const match = /"retryAfterMs":(\d+)/.exec(payload);
      if (match) reply.header('retry-after', String(Math.max(1, Math.ceil(Number(match[1]) / 1000))));
    }
    done(null, payload);
  });

  // No allowed origin: no CORS at all (browsers then refuse cross-origin reads by themselves).
  if (config.corsOrigins.length === 0) return;
  await app.register(cors, {
    origin: config.corsOrigins,
    methods: ['GET', 'POST'],
    allowedHeaders: CORS_HEADERS,
    // Bearer tokens, not cookies: a cross-origin page never rides on the user's session.
    credentials: false,
    maxAge: 600,
  });
  // The answer depends on Origin; a handler that sets its own Vary (the tRPC binding does)
  // would drop the one the CORS hook added, so put Origin back last.
  app.addHook('onSend', (_req, reply, payload, done) => {
    const vary = reply.getHeader('vary');
    const current = Array.isArray(vary) ? vary.join(', ') : vary === undefined ? '' : String(vary);
    if (!/(^|,)\s*(origin|\*)\s*(,|$)/i.test(current)) {
      reply.header('vary', current ? `${current}, Origin` : 'Origin');
    }
    done(null, payload);
  });
}
