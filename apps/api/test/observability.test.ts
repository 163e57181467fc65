// The dashboard and the alert rules of ops/, proved against the real thing: promtool checks and
// unit-tests the rules, then a real Prometheus (its own port and data directory) scrapes a real
// API and worker while a short sale runs, and every dashboard query and every alert and
// recording expression is evaluated through Prometheus' HTTP API. A panel whose query returns
// nothing, or a metric name Prometheus never saw, fails here rather than on an operator's night.
//
// Needs Debian's `prometheus` package (it brings promtool); .ci/run installs it. Without it
// locally the suite is skipped with a message saying so.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRunEnv, type RunEnv } from '../../../loadtests/lib/env.ts';
import { httpFor } from '../../../loadtests/node/driver.ts';
import { saleScenario } from '../../../loadtests/node/sale.ts';
import * as sale from '../../../loadtests/scenarios/sale.js';
import { adminMutation, mutation } from '../../../loadtests/scenarios/trpc.js';
import { type Child, ROOT, startApi, startWorker } from '../../../test/processes.ts';
import { freePort } from '../../../test/redis-server.ts';

const OPS = path.join(ROOT, 'ops');
const RULES = path.join(OPS, 'prometheus/alerts.yml');
const RULE_TESTS = path.join(OPS, 'prometheus/alerts.test.yml');
const DASHBOARD = path.join(OPS, 'grafana/flash-sale.json');
/** What `$__rate_interval` stands for here: a few scrapes of the 1-second interval below. */
const RATE_INTERVAL = '10s';

const which = (bin: string) => (spawnSync(bin, ['--version']).status === 0 ? bin : undefined);
const promtool = which(process.env.PROMTOOL_BIN ?? 'promtool');
const prometheusBin = which(process.env.PROMETHEUS_BIN ?? 'prometheus');
if ((!promtool || !prometheusBin) && process.env.FLASH_REQUIRE_PROMETHEUS === '1') {
  // CI (.ci/run) installs the package and sets this: there the suite must run, never skip.
  throw new Error('FLASH_REQUIRE_PROMETHEUS=1 but promtool or prometheus is not installed');
}
if (!promtool || !prometheusBin) {
  console.warn(
    'observability.test.ts skipped: promtool or prometheus is not installed (apt-get install -y prometheus; .ci/run does it)',
  );
}

type Target = { expr: string; legendFormat?: string };
type Panel = { type: string; title: string; targets?: Target[]; panels?: Panel[] };
/** A rule as Prometheus loaded it from alerts.yml (GET /api/v1/rules). */
type LoadedRule = {
  name: string;
  type: 'alerting' | 'recording';
  query: string;
  health: string;
  lastError?: string;
};

function dashboardQueries(): { panel: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  return panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: p.title,
      expr: t.expr.replaceAll('$__rate_interval', RATE_INTERVAL),
    })),
  );
}

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'and',
  'or',
  'unless',
  'inf',
  'nan',
]);

/** The metric names an expression reads (functions, keywords, labels and strings left out). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/([A-Za-z_:][\w:]*)\s*(\()?/g)) {
    if (m[2] || PROMQL_WORDS.has(m[1]!.toLowerCase())) continue;
    names.add(m[1]!);
  }
  return [...names];
}

describe.skipIf(!promtool || !prometheusBin)(
  'the dashboard and alert rules against a real Prometheus',
  () => {
    let run: RunEnv;
    const children: Child[] = [];
    let prometheus: ChildProcess | undefined;
    let dir: string;
    let promUrl: string;
    let saleStarted = 0;
    let saleEnded = 0;
    let saleViolations: string[] = [];

    const api = async (endpoint: string, params: Record<string, string> = {}) => {
      const res = await fetch(`${promUrl}/api/v1/${endpoint}?${new URLSearchParams(params)}`);
      const body = (await res.json()) as { status: string; data: any; error?: string };
      return { http: res.status, ...body };
    };

    beforeAll(async () => {
      // A sale small and short enough for a test, with abandoned orders that expire in it.
      const shape = {
        ...sale.shape,
        users: 300,
        coupons: 60,
        stock: 60,
        durationSec: 3,
        thinkMinMs: 100,
        thinkMaxMs: 600,
        holdSeconds: 2,
      };
      run = await createRunEnv('obs', sale.serviceEnv(shape));
      const apiChild = await startApi(run.env);
      children.push(apiChild);
      children.push(await startWorker(run.env));

      dir = mkdtempSync(path.join(tmpdir(), 'flash-prometheus-'));
      const port = await freePort();
      promUrl = `http://127.0.0.1:${port}`;
      const target = new URL(apiChild.url).host;
      writeFileSync(
        path.join(dir, 'prometheus.yml'),
        [
          'global: { scrape_interval: 1s, evaluation_interval: 1s }',
          `rule_files: [${JSON.stringify(RULES)}]`,
          'scrape_configs:',
          '  - job_name: flash-api',
          `    static_configs: [{ targets: [${JSON.stringify(target)}] }]`,
          '',
        ].join('\n'),
      );
      prometheus = spawn(
        prometheusBin!,
        [
          `--config.file=${path.join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${path.join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--web.enable-lifecycle',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let log = '';
      prometheus.stderr!.on('data', (c) => {
        log = (log + c).slice(-5000);
      });
      const deadline = Date.now() + 30_000;
      for (;;) {
        const ready = await fetch(`${promUrl}/-/ready`).then(
          (r) => r.ok,
          () => false,
        );
        if (ready) break;
        if (Date.now() > deadline || prometheus.exitCode !== null)
          throw new Error(`Prometheus did not start:\n${log}`);
        await new Promise((r) => setTimeout(r, 200));
      }

      saleStarted = Date.now();
      // A waiting room beside the sale, so its panels have data: a room admitting one shopper a
      // second in front of a product of its own, a crowd that joins it, and a guarded call
      // without a pass (a refusal).
      const http = httpFor(apiChild.url, run.config.jwtSecret);
      const guarded = await http.ok(
        adminMutation('admin.product.create', { name: 'guarded', price: 1, stock: 10 }),
      );
      const { roomId } = await http.ok(
        adminMutation('admin.waitingRoom.create', {
          name: 'room',
          productIds: [guarded.id],
          admitPerSecond: 1,
        }),
      );
      const joined = await http.sendAll(
        Array.from({ length: 20 }, (_, i) => mutation('waitingRoom.join', { roomId }, 9_000_000 + i)),
      );
      expect(joined.map((a) => a.status)).toEqual(joined.map(() => 200));
      const refused = await http.send(
        mutation('order.create', { items: [{ productId: guarded.id, quantity: 1 }] }, 9_100_000),
      );
      expect(refused.status).toBe(403);
      const result = await saleScenario.run({
        run,
        url: apiChild.url,
        http,
        shape: (s) => ({ ...s, ...shape }),
        durationSec: shape.durationSec,
        connections: 100,
        pids: { api: apiChild.process.pid, worker: children[1]!.process.pid },
        log: () => {},
      });
      saleViolations = result.violations;
      // The report the sale writes is not this test's to keep.
      const report = result.notes.find((n) => n.startsWith('report: '))?.slice('report: '.length);
      if (report) {
        rmSync(path.join(ROOT, report), { force: true });
        rmSync(path.join(ROOT, report.replace(/\.html$/, '.json')), { force: true });
      }
      // A few more scrapes and rule evaluations after the last call.
      await new Promise((r) => setTimeout(r, 3000));
      saleEnded = Date.now();
    }, 150_000);

    afterAll(async () => {
      if (prometheus && prometheus.exitCode === null) {
        const exited = new Promise((r) => prometheus!.once('exit', r));
        prometheus.kill('SIGTERM');
        await exited;
      }
      for (const child of children.reverse()) await child.stop();
      await run?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('promtool accepts the rules and their unit tests pass', async () => {
      const exec = promisify(execFile);
      const checked = await exec(promtool!, ['check', 'rules', RULES]);
      expect(checked.stdout).toMatch(/SUCCESS: \d+ rules found/);
      const tested = await exec(promtool!, ['test', 'rules', RULE_TESTS]);
      expect(tested.stdout).toContain('SUCCESS');
    });

    it('the sale ran as a sale (its own invariants held)', () => {
      expect(saleViolations).toEqual([]);
    });

    it('every dashboard query returns data from the scraped sale', async () => {
      const seen = new Set<string>((await api('label/__name__/values')).data);
      const queries = dashboardQueries();
      expect(queries.length).toBeGreaterThan(20);
      const problems: string[] = [];
      for (const { panel, expr } of queries) {
        const names = metricNames(expr);
        for (const name of names) {
          if (!seen.has(name)) problems.push(`"${panel}": metric ${name} was never scraped`);
        }
        const answer = await api('query_range', {
          query: expr,
          start: String(saleStarted / 1000),
          end: String(saleEnded / 1000),
          step: '1',
        });
        if (answer.status !== 'success') problems.push(`"${panel}": ${expr}: ${answer.error}`);
        else if (answer.data.result.length === 0) problems.push(`"${panel}": no data for ${expr}`);
      }
      expect(problems).toEqual([]);
    });

    it('every alert and recording expression evaluates, and Prometheus ran every rule without an error', async () => {
      const seen = new Set<string>((await api('label/__name__/values')).data);
      const rules: LoadedRule[] = (await api('rules')).data.groups.flatMap(
        (g: { rules: LoadedRule[] }) => g.rules,
      );
      expect(rules.filter((r) => r.type === 'alerting').length).toBeGreaterThanOrEqual(7);
      const inFile = [...readFileSync(RULES, 'utf8').matchAll(/^\s+- (?:alert|record): (\S+)/gm)].map(
        (m) => m[1],
      );
      expect(rules.map((r) => r.name).sort()).toEqual(inFile.sort());
      for (const rule of rules) {
        for (const metric of metricNames(rule.query)) {
          expect(seen.has(metric), `${rule.name}: metric ${metric} was never scraped`).toBe(true);
        }
        const answer = await api('query', { query: rule.query, time: String(saleEnded / 1000) });
        expect(answer.status, `${rule.name}: ${rule.query}: ${answer.error}`).toBe('success');
        expect(rule.health, `${rule.name}: ${rule.lastError}`).toBe('ok');
      }
      // The API answered scrapes during the sale (on a loaded machine a scrape may miss its 1 s timeout).
      const window = `${Math.ceil((saleEnded - saleStarted) / 1000)}s`;
      const up = await api('query', {
        query: `max_over_time(up{job="flash-api"}[${window}])`,
        time: String(saleEnded / 1000),
      });
      expect(up.data.result[0]?.value[1]).toBe('1');
    });

    it('reads metric names out of PromQL as the checks above need', () => {
      expect(
        metricNames(
          'sum by (procedure, le) (rate(flash_x_bucket{procedure=~"a|b", le!="1"}[1m])) > on (procedure) flash:budget or absent(up{job="flash-api"})',
        ).sort(),
      ).toEqual(['flash:budget', 'flash_x_bucket', 'up']);
    });
  },
);
