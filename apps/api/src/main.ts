// Starts the API: parse config, listen, and shut down gracefully (in-flight requests finish) on
// SIGTERM/SIGINT or when `pnpm start` goes away.
import {
  checkStores,
  createLifecycleLogger,
  createLogger,
  exitOnStartupError,
  loadConfig,
  stopGracefully,
} from '@flash/core';
import { superviseApi } from './cluster.ts';
import { buildServer } from './server.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  if (superviseApi(config.apiProcesses)) return;
  await checkStores(config);
  const app = await buildServer(config);
  const lifecycle = createLifecycleLogger('api', config.logLevel);
  stopGracefully(lifecycle, () => app.close());
  const address = await app.listen({ port: config.port, host: config.host });
  lifecycle.info({ address }, `flash-sale api listening on ${address} (tRPC at ${address}/trpc)`);
}

main().catch((err: unknown) => exitOnStartupError(createLogger('api'), err));
