// `pnpm run token <userId> [--admin] [--expires 12h]` (plain `pnpm token` is pnpm's own command): prints a bearer token signed with
// AUTH_JWT_SECRET (or the development secret), for curl and local clients.
import { ConfigError, loadConfig, signToken } from '@flash/core';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const userId = args.find((a) => !a.startsWith('--') && args[args.indexOf(a) - 1] !== '--expires');
  if (!userId || !/^[1-9][0-9]{0,15}$/.test(userId)) {
    console.error('usage: pnpm run token <userId> [--admin] [--expires 12h]   (userId: a positive integer)');
    process.exit(2);
  }
  const expiresIdx = args.indexOf('--expires');
  const expiresIn = expiresIdx >= 0 ? args[expiresIdx + 1] : undefined;
  const config = loadConfig();
  console.log(
    await signToken(config.jwtSecret, Number(userId), { admin: args.includes('--admin'), expiresIn }),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
