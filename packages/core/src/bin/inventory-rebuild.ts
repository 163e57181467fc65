// `pnpm inventory:rebuild [--force]`: loads every product's stock (its available count and the
// holds of unpaid orders on it, in the product's own slot) from Postgres where Redis lost it.
// Without --force it is safe at any time, also while the API serves: a loaded product is left
// untouched (the API loads a product on its own when it finds its count missing; this does it
// for all of them before traffic asks, e.g. after an upgrade from the one-slot `{inventory}`).
// --force replaces every product's stock: ONLY with the API stopped, because an order between its
// Redis hold and its Postgres insert would lose its hold and its units could be sold twice.

import { ConfigError, loadConfig } from '../config.ts';
import { TOOL_QUERY_DEADLINE_MS } from '../db/client.ts';
import { rebuildInventory } from '../product/inventory.service.ts';
import { createRuntime } from '../runtime.ts';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.some((a) => a !== '--force')) {
    console.error('usage: pnpm inventory:rebuild [--force]   (--force only while the API is stopped)');
    process.exit(2);
  }
  const rt = await createRuntime(loadConfig(), {
    name: 'flash-sale-inventory-rebuild',
    dbPoolSize: 2,
    dbQueryDeadlineMillis: TOOL_QUERY_DEADLINE_MS,
  });
  try {
    const result = await rebuildInventory(rt, { force: args.includes('--force') });
    console.log(
      result.loaded
        ? `inventory: loaded ${result.products} products and ${result.holds} holds of unpaid orders`
        : 'inventory: already loaded, left untouched (use --force with the API stopped to replace it)',
    );
  } finally {
    await rt.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
