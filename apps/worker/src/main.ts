// Starts the BullMQ workers and stops them gracefully (active jobs finish) on SIGTERM/SIGINT or
// when `pnpm start` goes away.
import {
  checkStores,
  createLifecycleLogger,
  createLogger,
  createRuntime,
  ensureInventoryLoaded,
  exitOnStartupError,
  loadConfig,
  stopGracefully,
  superviseCopies,
} from '@flash/core';
import { startWorkers } from './workers.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const supervisor = superviseCopies('worker', config.workerProcesses);
  if (supervisor) {
    void supervisor.exited.then((code) => process.exit(code));
    return;
  }
  const log = createLogger('worker', config.logLevel);
  await checkStores(config);
  // Jobs answer no caller and move batches: a longer statement deadline than a request's, still bounded.
  const rt = await createRuntime(config, { name: 'flash-sale-worker', dbQueryDeadlineMillis: 30_000 });
  // A fresh or emptied Redis gets its inventory from Postgres now rather than on the first order
  // (which would otherwise pay for the rebuild, and the reconciler would report it missing).
  await ensureInventoryLoaded(rt).catch((err: unknown) => log.error({ err }, 'inventory load failed'));
  const running = await startWorkers(rt, undefined, log);
  const lifecycle = createLifecycleLogger('worker', config.logLevel);
  stopGracefully(lifecycle, async () => {
    await running.close();
    await rt.close();
  });
  const queues = running.workers.map((w) => w.name);
  lifecycle.info({ queues }, `flash-sale worker draining ${queues.join(', ') || '(no queues yet)'}`);
}

main().catch((err: unknown) => exitOnStartupError(createLogger('worker'), err));
