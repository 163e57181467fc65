// `pnpm migrate [down]`: creates the database when missing and applies (or reverts one) migration.
import { ConfigError, loadConfig } from '../config.ts';
import { createDb, ensureDatabase, TOOL_QUERY_DEADLINE_MS } from '../db/client.ts';
import { migrateDown, migrateToLatest } from '../db/migrate.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const direction = process.argv[2] === 'down' ? 'down' : 'up';
  if (await ensureDatabase(config.databaseUrl))
    console.log(`created database ${new URL(config.databaseUrl).pathname.slice(1)}`);
  const db = createDb(config.databaseUrl, { max: 1, queryDeadlineMillis: TOOL_QUERY_DEADLINE_MS });
  try {
    const lines = direction === 'up' ? await migrateToLatest(db) : await migrateDown(db);
    console.log(lines.length ? lines.join('\n') : 'migrations: already up to date');
  } finally {
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
