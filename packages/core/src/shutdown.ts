import type { Logger } from './logger.ts';

/** How long a process may take to stop gracefully before it exits anyway. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * Runs `stop` once, on SIGTERM or SIGINT, or when the process that started this one goes away,
 * then exits (code 1 if `stop` failed or took longer than SHUTDOWN_TIMEOUT_MS).
 *
 * The parent is watched through the IPC channel `pnpm start` opens to its children: the kernel
 * closes it however the parent ends, SIGKILL and crashes included, and Node reports that at once
 * as `disconnect`. Closing stdin would do the same but a supervisor may start the service with
 * no stdin at all, and polling `process.ppid` notices only after a delay and not when a
 * subreaper adopts the process. A process started without a channel (docker, systemd, a test)
 * has no parent to watch and stops on signals only.
 */
export function stopGracefully(log: Pick<Logger, 'info' | 'error'>, stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, `shutting down (${reason})`);
    setTimeout(() => {
      log.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown took too long; exiting anyway');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // The channel may have closed while this process was still starting (before this ran):
  // `connected` is then false, where a process started without a channel has it undefined.
  if (process.connected === false) shutdown('parent process gone');
  else if (process.channel) {
    process.on('disconnect', () => shutdown('parent process gone'));
    // The channel only watches; it must not keep the process alive by itself.
    process.channel.unref();
  }
}
