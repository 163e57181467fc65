// `pnpm coupons:rebuild [couponId ...]`: restores coupons' Redis state from Postgres after Redis
// lost it (every coupon, or the ones named). Safe to run at any time, also while the API serves:
// a coupon Redis still holds is left untouched. The API does the same on its own for a coupon
// it finds missing; this command restores all of them at once, before traffic asks.

import { ConfigError, loadConfig } from '../config.ts';
import { restoreAllCoupons } from '../coupon/coupon.service.ts';
import { TOOL_QUERY_DEADLINE_MS } from '../db/client.ts';
import { createRuntime } from '../runtime.ts';

async function main(): Promise<void> {
  const ids = process.argv.slice(2).map((arg) => {
    if (!/^[1-9][0-9]{0,15}$/.test(arg)) {
      console.error(`usage: pnpm coupons:rebuild [couponId ...]   (not a coupon id: ${arg})`);
      process.exit(2);
    }
    return Number(arg);
  });
  const rt = await createRuntime(loadConfig(), {
    name: 'flash-sale-coupons-rebuild',
    dbPoolSize: 2,
    dbQueryDeadlineMillis: TOOL_QUERY_DEADLINE_MS,
  });
  try {
    const counts = await restoreAllCoupons(
      rt,
      (couponId, outcome, issued) => {
        if (outcome === 'RESTORED') console.log(`coupon ${couponId}: restored, ${issued} issued`);
        if (outcome === 'NOT_FOUND') console.log(`coupon ${couponId}: not found`);
      },
      ids.length > 0 ? ids : undefined,
    );
    console.log(
      `coupons: ${counts.RESTORED} restored, ${counts.ALREADY_LOADED} already loaded, ` +
        `${counts.RETIRED} retired (window closed long ago), ${counts.NOT_FOUND} not found`,
    );
  } finally {
    await rt.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
