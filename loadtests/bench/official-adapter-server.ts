// The API as it was before the lean binding: the same app router, context, auth and Fastify
// options, served through tRPC's own `fastifyTRPCPlugin` (Fetch Request/Response per call).
// The benchmark runs `coupon.issue` against it to show what the adapter costs.
//   node loadtests/bench/official-adapter-server.ts     (prints "listening on <url>")
import { createRuntime, createTokenVerifier, loadConfig } from '@flash/core';
import { createWaitingRoomDirectory } from '@flash/core/internal/waiting-room/waiting-room.directory';
import { fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import Fastify from 'fastify';
import { contextFactory } from '../../apps/api/src/trpc/context.ts';
import { appRouter } from '../../apps/api/src/trpc/root.ts';

const config = loadConfig();
const rt = await createRuntime(config, { name: 'bench-official-adapter' });
const app = Fastify({
  logger: { level: config.logLevel },
  routerOptions: { maxParamLength: 2000 },
  bodyLimit: 262_144,
});
const createContext = contextFactory(
  rt,
  createTokenVerifier(config.jwtSecret),
  createWaitingRoomDirectory(rt.db),
);
await app.register(fastifyTRPCPlugin, { prefix: '/trpc', trpcOptions: { router: appRouter, createContext } });

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => app.close().then(() => rt.close().finally(() => process.exit(0))));
}
console.log(`official adapter listening on ${await app.listen({ port: config.port, host: config.host })}`);
