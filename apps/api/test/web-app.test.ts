import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { loadConfig } from '@flash/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compressBuild } from '../../../scripts/build-web.ts';
import { API_CSP, registerSecurity } from '../src/plugins/security.ts';
import { APP_CSP, webAppPlugin } from '../src/plugins/web-app.ts';

const SCRIPT = `console.log(${JSON.stringify('flash sale '.repeat(200))})`;

/** The storefront's build served at `/`, with document headers for the page and a long cache for hashed assets. */
describe('the storefront served by the API', () => {
  let root: string;
  let app: FastifyInstance;
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'web-dist-'));
    mkdirSync(path.join(root, 'assets'));
    writeFileSync(
      path.join(root, 'index.html'),
      '<!doctype html><title>shop</title><script src="/assets/index-abc123.js"></script>',
    );
    writeFileSync(path.join(root, 'assets', 'index-abc123.js'), SCRIPT);
    writeFileSync(path.join(root, 'assets', 'font-abc123.woff2'), 'wOF2 already compressed');
    writeFileSync(path.join(root, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    await compressBuild(root);
    app = Fastify({ logger: false });
    await registerSecurity(app, loadConfig({}));
    app.get('/trpc/ping', async () => ({ ok: true }));
    await app.register(webAppPlugin, { root });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('serves index.html at / as a document of this origin, revalidated on every load', async () => {
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('<title>shop</title>');
    expect(res.headers['content-security-policy']).toBe(APP_CSP);
    expect(APP_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*|http:/);
    // Scripts, styles, fonts and calls: this origin only. Pictures may also come from an https CDN.
    const directives = APP_CSP.split('; ').filter((d) => !d.startsWith('img-src '));
    expect(directives.join('; ')).not.toMatch(/https:/);
    expect(APP_CSP).toContain("img-src 'self' data: https:");
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });

  it('caches hashed assets for a year', async () => {
    const res = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const icon = await app.inject({ method: 'GET', url: '/favicon.svg' });
    expect(icon.headers['cache-control']).toBe('public, max-age=3600');
  });

  it('compresses the text files of a build once: brotli and gzip copies of the same bytes', () => {
    const script = path.join(root, 'assets', 'index-abc123.js');
    expect(brotliDecompressSync(readFileSync(`${script}.br`)).toString()).toBe(SCRIPT);
    expect(gunzipSync(readFileSync(`${script}.gz`)).toString()).toBe(SCRIPT);
    expect(readFileSync(`${script}.br`).length).toBeLessThan(SCRIPT.length / 10);
    expect(existsSync(path.join(root, 'index.html.br'))).toBe(true);
    // Fonts arrive compressed; a copy that would not be smaller is not written.
    expect(existsSync(path.join(root, 'assets', 'font-abc123.woff2.br'))).toBe(false);
    expect(existsSync(path.join(root, 'favicon.svg.br'))).toBe(false);
  });

  it.each([
    ['br, gzip', 'br'],
    ['gzip, deflate, br;q=0.5', 'gzip'],
    ['gzip', 'gzip'],
    ['identity', undefined],
    [undefined, undefined],
  ])('sends the copy that Accept-Encoding %s allows, with Vary', async (accept, encoding) => {
    const res = await app.inject({
      method: 'GET',
      url: '/assets/index-abc123.js',
      headers: accept === undefined ? {} : { 'accept-encoding': accept },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-encoding']).toBe(encoding);
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers.vary).toMatch(/accept-encoding/i);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const body = res.rawPayload;
    const text =
      encoding === 'br'
        ? brotliDecompressSync(body).toString()
        : encoding === 'gzip'
          ? gunzipSync(body).toString()
          : body.toString();
    expect(text).toBe(SCRIPT);
  });

  it('sends index.html compressed with its document headers, never cached', async () => {
    const res = await app.inject({ method: 'GET', url: '/', headers: { 'accept-encoding': 'br' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-encoding']).toBe('br');
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toBe(APP_CSP);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(brotliDecompressSync(res.rawPayload).toString()).toContain('<title>shop</title>');
  });

  it('leaves the API and unknown paths as they were', async () => {
    const api = await app.inject({ method: 'GET', url: '/trpc/ping' });
    expect(api.headers['content-security-policy']).toBe(API_CSP);
    expect(api.headers['cache-control']).toBe('no-store');
    const missing = await app.inject({ method: 'GET', url: '/assets/nope.js' });
    expect(missing.statusCode).toBe(404);
    const traversal = await app.inject({ method: 'GET', url: '/../package.json' });
    expect(traversal.statusCode).toBe(404);
  });

  it('serves nothing without a build', async () => {
    const bare = Fastify({ logger: false });
    await bare.register(webAppPlugin, { root: path.join(root, 'missing') });
    expect((await bare.inject({ method: 'GET', url: '/' })).statusCode).toBe(404);
    await bare.close();
  });
});
