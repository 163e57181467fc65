// `pnpm run token <userId> [--admin] [--expires 12h]` (plain `pnpm token` is pnpm's own command):
// prints a bearer token signed with AUTH_JWT_SECRET (or the development secret), for curl and
// local clients. A bad argument is one line on stderr and exit code 2.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, parseDurationSeconds, signToken } from '@flash/core';

const USAGE = 'usage: pnpm run token <userId> [--admin] [--expires 12h]';

function refuse(problem: string): never {
  console.error(`pnpm run token: ${problem} (${USAGE})`);
  process.exit(2);
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (err) {
    refuse(err instanceof Error ? err.message.split('.')[0]! : String(err));
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) refuse(positionals.length === 0 ? 'no userId' : 'one userId only');
  const userId = positionals[0]!;
  if (!/^[1-9][0-9]{0,15}$/.test(userId) || !Number.isSafeInteger(Number(userId))) {
    refuse(`userId must be a positive integer, not ${JSON.stringify(userId)}`);
  }
  const config = loadConfig();
  let ttlSeconds = 12 * 3600;
  if (values.expires !== undefined) {
    const seconds = parseDurationSeconds(values.expires);
    if (seconds === undefined) {
      refuse(`--expires ${JSON.stringify(values.expires)} is not a duration such as 3600, 90m, 12h or 7d`);
    }
    ttlSeconds = seconds;
  }
  if (ttlSeconds > config.maxTokenTtlSeconds) {
    refuse(
      `--expires ${values.expires} is longer than AUTH_MAX_TOKEN_TTL (${config.maxTokenTtlSeconds} s): the API would refuse the token`,
    );
  }
  const now = Math.floor(Date.now() / 1000);
  console.log(
    await signToken(config.jwtSecret, Number(userId), {
      admin: values.admin ?? false,
      expiresIn: now + ttlSeconds,
    }),
  );
}

function parse(args: string[]) {
  return parseArgs({
    args,
    options: { admin: { type: 'boolean' }, expires: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
