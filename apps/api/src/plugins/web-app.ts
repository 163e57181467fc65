/**
 * The storefront (apps/web) served by the API at `/`, from its production build
 * (`apps/web/dist`, made by `pnpm start` or `pnpm --filter @flash/web build`). Without a build
 * nothing is served here and the API works as before.
 *
 * Headers: index.html is a document, so it gets helmet's set for documents with a CSP that lets
 * the page load scripts, styles and images from this origin only and call this origin's API;
 * it is revalidated on every load, so a new build is picked up at once. The hashed files under
 * /assets never change under one name: a year, immutable. Everything else keeps the API's
 * headers (security.ts).
 *
 * Compression: the build writes a brotli and a gzip copy of every text file once
 * (scripts/build-web.ts); each request gets the best copy its Accept-Encoding allows, with
 * `Vary: accept-encoding`, and nothing is compressed per request.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { helmetHeaders } from './security.ts';

export const WEB_DIST = path.resolve(import.meta.dirname, '../../../web/dist');

/** The app's document: its own origin for everything, nothing inline, never framed. */
export const APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  // Product pictures may live on a CDN (admin.product.create's imageUrl is https or this origin).
  "img-src 'self' data: https:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const IMMUTABLE = 'public, max-age=31536000, immutable';

export type WebAppPluginOptions = { root?: string };

export const webAppPlugin: FastifyPluginAsync<WebAppPluginOptions> = async (app, options) => {
  const root = options.root ?? WEB_DIST;
  if (!existsSync(path.join(root, 'index.html'))) {
    app.log.info({ root }, 'no storefront build: / is not served (pnpm start builds it)');
    return;
  }
  const documentHeaders = {
    ...helmetHeaders(),
    'content-security-policy': APP_CSP,
    'cache-control': 'no-cache',
  };
  const assets = `${path.join(root, 'assets')}${path.sep}`;
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    // Routes for the files the build holds, found once at start-up; anything else is a 404.
    wildcard: false,
    index: ['index.html'],
    decorateReply: false,
    cacheControl: false,
    preCompressed: true,
    setHeaders(reply, sent) {
      // The headers of the file asked for, whichever copy (.br, .gz or plain) is sent.
      const file = sent.replace(/\.(?:br|gz)$/, '');
      if (file.endsWith('.html')) reply.headers(documentHeaders);
      else if (file.startsWith(assets)) reply.header('cache-control', IMMUTABLE);
      else reply.header('cache-control', 'public, max-age=3600');
    },
  });
};
