// `pnpm reconcile [--json]`: compares Redis with Postgres (issued coupons, available stock and
// holds, order states) and prints every difference. Read-only; exits 1 when it finds critical
// drift (something issued beyond its quantity or stock below zero), so it can gate a sale.
import { ConfigError, loadConfig } from '../config.ts';
import { TOOL_QUERY_DEADLINE_MS } from '../db/client.ts';
import { reconcile } from '../reconcile/reconcile.service.ts';
import { createRuntime } from '../runtime.ts';

async function main(): Promise<void> {
  const rt = await createRuntime(loadConfig(), {
    name: 'flash-sale-reconcile',
    dbPoolSize: 2,
    dbQueryDeadlineMillis: TOOL_QUERY_DEADLINE_MS,
  });
  try {
    const report = await reconcile(rt);
    if (process.argv.includes('--json')) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      console.log(
        `checked ${report.coupons} live coupon(s), ${report.products} product(s), ${report.holds} stock hold(s) at ${report.checkedAt}`,
      );
      for (const d of report.drifts) {
        console.log(
          `${d.severity.toUpperCase().padEnd(8)} ${d.kind} ${d.id}: ${d.detail} (redis=${d.redis ?? '-'}, postgres=${d.postgres ?? '-'})`,
        );
      }
      console.log(report.drifts.length === 0 ? 'no drift' : `${report.drifts.length} drift(s)`);
    }
    if (report.drifts.some((d) => d.severity === 'critical')) process.exitCode = 1;
  } finally {
    await rt.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
