// `pnpm ranking:rebuild [--force]`: loads the product.top ranking (hourly sales buckets of the
// last 72 hours) from Postgres `sales` after Redis lost it. Without --force it is safe at any
// time: a loaded ranking is left untouched (the API rebuilds on its own when it finds the
// marker missing). --force re-derives a loaded ranking from Postgres; while payments run, a
// sale paid in the same instant may be counted twice or missed until the next rebuild.

import { ConfigError, loadConfig } from '../config.ts';
import { TOOL_QUERY_DEADLINE_MS } from '../db/client.ts';
import { rebuildRanking } from '../ranking/ranking.service.ts';
import { createRuntime } from '../runtime.ts';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.some((a) => a !== '--force')) {
    console.error('usage: pnpm ranking:rebuild [--force]');
    process.exit(2);
  }
  const rt = await createRuntime(loadConfig(), {
    name: 'flash-sale-ranking-rebuild',
    dbPoolSize: 2,
    dbQueryDeadlineMillis: TOOL_QUERY_DEADLINE_MS,
  });
  try {
    const result = await rebuildRanking(rt, { force: args.includes('--force') });
    console.log(
      result.loaded
        ? `ranking: loaded ${result.hours} hourly buckets covering ${result.products} products`
        : 'ranking: already loaded, left untouched (use --force to re-derive it)',
    );
  } finally {
    await rt.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
