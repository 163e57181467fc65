// Starts the API: parse config, listen, and shut down gracefully on SIGTERM/SIGINT.
import { createLogger, exitOnStartupError, loadConfig } from '@flash/core';
import { buildServer } from './server.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await buildServer(config);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  const address = await app.listen({ port: config.port, host: config.host });
  app.log.info({ address }, `flash-sale api listening on ${address} (tRPC at ${address}/trpc)`);
}

main().catch((err: unknown) => exitOnStartupError(createLogger('api'), err));
