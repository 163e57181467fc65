import {
  type Config,
  createRuntime,
  createTokenVerifier,
  createWaitingRoomDirectory,
  loggerOptions,
  type Runtime,
} from '@flash/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { metricsPlugin } from './plugins/metrics.ts';
import { queueDashboardPlugin } from './plugins/queue-dashboard.ts';
import { RequestLogController, registerRequestLog } from './plugins/request-log.ts';
import { registerSecurity } from './plugins/security.ts';
import { webAppPlugin } from './plugins/web-app.ts';
import { contextFactory } from './trpc/context.ts';
import { collectDirectCalls } from './trpc/fast-path.ts';
import { type LeanTRPCPluginOptions, leanTRPCPlugin } from './trpc/fastify-adapter.ts';
import { clientErrorHandler, frameworkErrors, withTRPCErrorShape } from './trpc/http-errors.ts';
import { type AppRouter, appRouter } from './trpc/root.ts';
import { waitingRoomMetrics } from './trpc/waiting-room-metrics.ts';

export type BuildServerOptions = {
  /** Use an existing runtime (tests share one); otherwise one is created and closed with the server. */
  runtime?: Runtime;
  logger?: boolean;
};

/** Builds the API without listening, so tests can `inject()` or listen on a port of their own. */
export async function buildServer(
  config: Config,
  options: BuildServerOptions = {},
): Promise<FastifyInstance> {
  const rt = options.runtime ?? (await createRuntime(config, { name: 'flash-sale-api' }));
  const app = Fastify({
    logger: options.logger === false ? false : loggerOptions('api', config.logLevel),
    // One line per request instead of Fastify's two (plugins/request-log.ts).
    logController: new RequestLogController(),
    // A tRPC batch path lists every procedure; bound it rather than accept any length.
    routerOptions: { maxParamLength: 2000 },
    bodyLimit: 256 * 1024,
    trustProxy: config.trustProxy,
    // Refusals before routing (Node's parser, Fastify's URL checks) in tRPC's shape under /trpc.
    clientErrorHandler: clientErrorHandler(appRouter),
    frameworkErrors: frameworkErrors(appRouter),
  });
  await registerSecurity(app, config);
  registerRequestLog(app);

  if (!options.runtime) app.addHook('onClose', () => rt.close());

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const checks = await Promise.allSettled([
      rt.redis.ping(),
      rt.db.selectNoFrom((eb) => eb.val(1).as('ok')).execute(),
    ]);
    const [redis, postgres] = checks.map((c) => (c.status === 'fulfilled' ? 'ok' : 'down'));
    const ready = redis === 'ok' && postgres === 'ok';
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', redis, postgres });
  });

  const tokens = createTokenVerifier(config.jwtSecret, { maxTtlSeconds: config.maxTokenTtlSeconds });
  // Which coupons and products waiting rooms guard, refreshed every second (rooms made by another
  // API process are known within it). Loaded now when Postgres answers; otherwise the first
  // guarded call loads it.
  const rooms = createWaitingRoomDirectory(rt.db, { refreshMs: 1_000 });
  app.addHook('onClose', async () => rooms.close());
  await rooms.refresh().catch(() => {});
  waitingRoomMetrics(rt, rooms);
  // Same wire format as tRPC's fastifyTRPCPlugin, without its Fetch Request/Response round trip;
  // Fastify's own refusals under /trpc (404, 413, 415) answer in tRPC's shape too.
  await app.register(withTRPCErrorShape(appRouter, leanTRPCPlugin<AppRouter>), {
    prefix: '/trpc',
    trpcOptions: {
      router: appRouter,
      createContext: contextFactory(rt, tokens, rooms),
      // Each call of a batch is limited and counted on its own; this bounds the work of one request.
      maxBatchSize: 10,
      onError({ error, path, ctx }) {
        if (error.code === 'INTERNAL_SERVER_ERROR') {
          (ctx?.log ?? app.log).error({ err: error.cause ?? error, path }, 'procedure failed');
        }
      },
    } satisfies LeanTRPCPluginOptions<AppRouter>['trpcOptions'],
    directMutations: collectDirectCalls(appRouter._def.procedures),
  });
  await app.register(metricsPlugin, { runtime: rt });
  await app.register(queueDashboardPlugin, { runtime: rt, tokens });
  await app.register(webAppPlugin);

  return app;
}
