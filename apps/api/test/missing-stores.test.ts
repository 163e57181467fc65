import { spawn } from 'node:child_process';
import path from 'node:path';
import { checkStores, loadConfig } from '@flash/core';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../../test/redis-server.ts';

const root = path.resolve(import.meta.dirname, '../../..');

function run(command: string, args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => {
      output += c;
    });
    child.stderr.on('data', (c) => {
      output += c;
    });
    child.on('exit', (code) => resolve({ code, output }));
  });
}

/** This process' environment without a cluster: the cases below name their Redis themselves. */
function singleRedisEnv(): NodeJS.ProcessEnv {
  const { REDIS_CLUSTER_NODES: _cluster, ...env } = process.env;
  return env;
}

/**
 * Every entry point, started with Redis or Postgres (or both) not running, says so in one line
 * per store (which URL, the error code, how to start it) and exits 1: no stack trace, no object dump.
 */
describe('a store that is not running', () => {
  it('is one line per store and exit code 1, in pnpm start, migrate, the API, the worker and the test setup', async () => {
    const redisUrl = `redis://127.0.0.1:${await freePort()}`;
    const databaseUrl = `postgres://postgres:hunter2@127.0.0.1:${await freePort()}/flash`;
    const clusterSeeds = `127.0.0.1:${await freePort()},127.0.0.1:${await freePort()}`;
    const node = process.execPath;
    const cases = [
      {
        what: 'pnpm start, both down',
        cmd: [node, 'scripts/start.ts'],
        env: { REDIS_URL: redisUrl, DATABASE_URL: databaseUrl },
        down: ['Redis', 'Postgres'],
      },
      {
        what: 'pnpm start, Redis down',
        cmd: [node, 'scripts/start.ts'],
        env: { REDIS_URL: redisUrl },
        down: ['Redis'],
      },
      {
        what: 'migrate, Postgres down',
        cmd: [node, 'packages/core/src/bin/migrate.ts'],
        env: { DATABASE_URL: databaseUrl },
        down: ['Postgres'],
      },
      {
        what: 'API, Redis down',
        cmd: [node, 'apps/api/src/main.ts'],
        env: { REDIS_URL: redisUrl, PORT: '0' },
        down: ['Redis'],
      },
      {
        what: 'API, Postgres down',
        cmd: [node, 'apps/api/src/main.ts'],
        env: { DATABASE_URL: databaseUrl, PORT: '0' },
        down: ['Postgres'],
      },
      {
        what: 'worker, Redis down',
        cmd: [node, 'apps/worker/src/main.ts'],
        env: { REDIS_URL: redisUrl },
        down: ['Redis'],
      },
      {
        what: 'API, no seed of REDIS_CLUSTER_NODES answers',
        cmd: [node, 'apps/api/src/main.ts'],
        env: { REDIS_CLUSTER_NODES: clusterSeeds, PORT: '0' },
        down: ['Redis'],
      },
      {
        what: 'the test setup, Postgres down',
        cmd: [node, 'node_modules/vitest/vitest.mjs', 'run', 'packages/core/src/config.test.ts'],
        env: { DATABASE_URL: databaseUrl },
        down: ['Postgres'],
      },
    ];
    // Two at a time: each case starts Node processes, and the machine is shared with the suite.
    const results: Awaited<ReturnType<typeof run>>[] = [];
    for (let i = 0; i < cases.length; i += 2) {
      results.push(
        ...(await Promise.all(
          cases
            .slice(i, i + 2)
            .map((c) =>
              run(c.cmd[0]!, c.cmd.slice(1), { ...singleRedisEnv(), NODE_ENV: 'development', ...c.env }),
            ),
        )),
      );
    }
    results.forEach(({ code, output }, i) => {
      const { what, down } = cases[i]!;
      expect(code, `${what}: ${output}`).toBe(1);
      // No stack frames, no dumped objects.
      expect(output, what).not.toMatch(/^\s+at /m);
      expect(output, what).not.toContain('[Error');
      expect(output, what).not.toContain('hunter2');
      const lines = output.split('\n').filter((line) => / is not reachable /.test(line));
      expect(lines, `${what}: ${output}`).toHaveLength(down.length);
      for (const store of down) {
        const line = lines.find((l) => l.includes(`${store} at `));
        expect(line, `${what}: ${store}`).toBeDefined();
        const shown = what.includes('REDIS_CLUSTER_NODES')
          ? clusterSeeds
              .split(',')
              .map((seed) => `redis://${seed}`)
              .join(',')
          : redisUrl;
        expect(line).toContain(store === 'Redis' ? shown : databaseUrl.replace('hunter2', '***'));
        expect(line).toContain('(ECONNREFUSED)');
        expect(line).toContain('docker compose up -d redis postgres');
      }
    });
  }, 300_000);

  it('names a REDIS_CLUSTER_NODES seed that is a plain Redis, instead of retrying forever', async () => {
    const { code, output } = await run(process.execPath, ['apps/worker/src/main.ts'], {
      ...singleRedisEnv(),
      NODE_ENV: 'development',
      REDIS_CLUSTER_NODES: `127.0.0.1:${new URL(loadConfig(singleRedisEnv()).redisUrl).port || 6379}`,
    });
    expect(code, output).toBe(1);
    expect(output).toMatch(/is not a cluster node .*REDIS_CLUSTER_NODES names nodes of a Redis Cluster/);
    expect(output).not.toMatch(/^\s+at /m);
  }, 60_000);

  // Under `pnpm test:cluster`: the cluster is what is checked, so REDIS_URL may point nowhere.
  it.runIf(Boolean(process.env.REDIS_CLUSTER_NODES))(
    'on a cluster, checks its seed nodes and not REDIS_URL',
    async () => {
      const config = loadConfig({ ...process.env, REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
      await expect(checkStores(config, ['redis'])).resolves.toBeUndefined();
    },
  );
});
