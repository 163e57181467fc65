// `pnpm migrate [down]`: creates the database when missing and applies (or reverts one) migration.
import { loadConfig } from '../config.ts';
import { createDb, ensureDatabase, TOOL_QUERY_DEADLINE_MS } from '../db/client.ts';
import { migrateDown, migrateToLatest } from '../db/migrate.ts';
import { createLogger, exitOnStartupError } from '../logger.ts';
import { checkStores } from '../store-check.ts';

const log = createLogger('migrate');

async function main(): Promise<void> {
  const config = loadConfig();
  log.level = config.logLevel;
  await checkStores(config, ['postgres']);
  const direction = process.argv[2] === 'down' ? 'down' : 'up';
  const database = new URL(config.databaseUrl).pathname.slice(1);
  if (await ensureDatabase(config.databaseUrl)) log.info({ database }, `created database ${database}`);
  const db = createDb(config.databaseUrl, { max: 1, queryDeadlineMillis: TOOL_QUERY_DEADLINE_MS });
  try {
    const lines = direction === 'up' ? await migrateToLatest(db) : await migrateDown(db);
    for (const line of lines) log.info(line);
    if (lines.length === 0) log.info('migrations: already up to date');
  } finally {
    await db.destroy();
  }
}

main().catch((err: unknown) => exitOnStartupError(log, err));
