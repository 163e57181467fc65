// The public surface of @flash/core: what the API, the worker and the tools import. Services
// (each area's `*.service.ts`) and the modules procedures and jobs call besides them; never a
// repository or a store (test/architecture.test.ts). Tests and benchmarks that look behind
// the services import `@flash/core/internal/<path>` (package.json). Besides the areas' services:
// configuration, connections, the composition root (runtime.ts), errors and logging.

export * from './auth/token.ts';
export * from './balance/balance.service.ts';
export * from './clock.ts';
export * from './config.ts';
export * from './coupon/coupon.catalog.ts';
export * from './coupon/coupon.persist.ts';
export * from './coupon/coupon.service.ts';
export * from './db/client.ts';
export type * from './db/database.ts';
export * from './db/migrate.ts';
export * from './errors.ts';
export * from './idempotency/idempotency.service.ts';
export * from './logger.ts';
export * from './metrics/metrics.service.ts';
export * from './order/order.persist.ts';
export * from './order/order.quote.ts';
export * from './order/order.service.ts';
export * from './order/order-expiry.service.ts';
export * from './outbox/outbox.service.ts';
export * from './payment/payment.service.ts';
export * from './process/processes.ts';
export * from './product/product.service.ts';
export * from './queue/queues.ts';
export * from './ranking/ranking.service.ts';
export * from './rate-limit/rate-limit.service.ts';
export * from './reconcile/reconcile.service.ts';
export * from './redis/client.ts';
export * from './redis/cluster.ts';
export * from './redis/keys.ts';
export * from './redis/scripts.ts';
export type * from './resources.ts';
export * from './runtime.ts';
export * from './shutdown.ts';
export * from './store-check.ts';
export * from './waiting-room/admission.ts';
export * from './waiting-room/pass.ts';
export * from './waiting-room/waiting-room.directory.ts';
export * from './waiting-room/waiting-room.guard.ts';
export * from './waiting-room/waiting-room.service.ts';
