// One source for every number (issue #34, conventions "Numbers in docs"): a measured figure in
// the README or under docs/ is either inside a block a script generates from JSON, or a number of
// a JSON file under docs/ that the same document links (rounded as the document writes it). A
// figure copied by hand from a run, with nothing behind it, goes stale silently; this test makes
// it fail instead. Limits, defaults and targets are not measurements: they are written with a
// comparison ("p99 ≤ 2 s") or listed in NOT_MEASURED below, each with its reason. A figure is
// found by value, so a small one can match some other number of a linked JSON by chance: the
// test stops copies from creeping in; it does not prove each figure names the right field.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Whole documents a script writes: `pnpm bench` renders benchmarks.md from benchmarks.json. */
const GENERATED_DOCS = new Set(['docs/benchmarks.md']);

/**
 * Figures with a unit that are not measurements, per document: the text as written (a range
 * counts as one figure) and why it is not a measured figure.
 */
const NOT_MEASURED: Record<string, Record<string, string>> = {
  'README.md': { '10 s': 'the graceful-stop deadline of `pnpm start`' },
  'docs/adr/0200-stock-sharded-by-product.md': {
    '5 s': 'REGISTER_EVERY_MS, how often a process lists a product again',
  },
  'docs/adr/0201-replica-wait.md': {
    '500 ms': "REDIS_WAIT_TIMEOUT_MS's default",
    '2000 ms': "the test cluster's cluster-node-timeout",
  },
  'docs/api.md': {
    '30 s': 'the clock skew a token is allowed (contract)',
    '1–2000 ms': 'the range REDIS_WAIT_TIMEOUT_MS accepts (contract)',
  },
  'docs/cluster.md': { '300 ms': 'the replica delay the failover test sets up' },
  'docs/reliability.md': {
    '2 s': "the pool's connect timeout",
    '2000 ms': "the test cluster's cluster-node-timeout",
    '300 ms': 'the replica delay the failover test sets up',
    '3 s': "the client's statement deadline, and ioredis' command timeout",
    '2.5 s': "Postgres' statement_timeout",
    '30 s': "the worker's statement deadline, BullMQ's lock and stall check, the schedulers' period",
    '2 ms': "the SCRIPT FLUSH interval of the test's fault",
    '400 ms': "the third backoff wait of the failing-job test's settings",
    '500 ms': 'the first backoff wait of the production job settings',
    '0.5 s': 'how often start.ts checks that its parent lives',
    '10 s': 'the graceful-stop deadline of `pnpm start`, and the hold sweep period',
    '60 s': 'the age at which the hold sweep releases an orphan hold',
  },
  'docs/scaling.md': {
    '60%': "the model's provisioned utilisation (headroom)",
    '100%': 'a share of one slot, the point where it saturates',
  },
};

const UNIT = '(?:req/s|rows/s|tx/s|calls/s|orders/s|payments/s|joins/s|µs|ms|s|min|×|%|bytes|KB|MB|GB|times)';
const NUMBER = String.raw`\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?`;
/** A number, or a range of two, then its unit; not part of a word, a version or a commit hash. */
const FIGURE = new RegExp(
  String.raw`(?<![\w.,/:#-])(${NUMBER})(?:\s?[–-]\s?(${NUMBER}))?\s?${UNIT}(?![\w/])`,
  'g',
);
/** Written as a bound, the figure is a target or a limit ("p99 ≤ 2 s", "under 100 ms"). */
const BOUND =
  /(?:[≤<≥>]|\bat most|\bat least|\bunder|\bwithin|\bbelow|\babove|\bup to|\btarget(?:s|ed)?(?: is| of)?)\s*$/;

type Figure = { line: number; text: string; values: number[] };

/** Blanks out what this test does not read, keeping line numbers: code, comments, generated blocks. */
function prose(markdown: string): string {
  const blank = (m: string) => m.replace(/[^\n]/g, ' ');
  return markdown
    .replace(/<!-- (\w+):begin[\s\S]*?<!-- \1:end -->/g, blank)
    .replace(/<!--[\s\S]*?-->/g, blank)
    .replace(/```[\s\S]*?```/g, blank)
    .replace(/`[^`\n]*`/g, blank)
    .replace(/\]\([^)\n]*\)/g, blank);
}

/** The measured-looking figures of a document, bounds (targets, limits) left out. */
function figuresOf(markdown: string): Figure[] {
  const text = prose(markdown);
  const figures: Figure[] = [];
  for (const m of text.matchAll(FIGURE)) {
    // A bound may sit at the end of the previous line ("p99 ≤" / "2 s").
    if (BOUND.test(text.slice(Math.max(0, m.index - 40), m.index))) continue;
    const values = [m[1], m[2]].filter((v): v is string => v !== undefined);
    const line = text.slice(0, m.index).split('\n').length;
    figures.push({ line, text: m[0], values: values.map((v) => Number(v.replaceAll(',', ''))) });
  }
  return [...figures, ...tableFigures(text)].sort((a, b) => a.line - b.line);
}

/** A unit in a table's column header ("p99 ms", "API CPU µs per paid order"). */
const HEADER_UNIT = /(?:^|[\s(])(req\/s|rows\/s|tx\/s|calls\/s|µs|ms|%)(?=$|[\s),/])/;

/** Numbers in table cells whose unit is in the column header (a cell with its own unit is prose's). */
function tableFigures(text: string): Figure[] {
  const lines = text.split('\n');
  const cells = (line: string) =>
    line
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|');
  const figures: Figure[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (!/^\s*\|[\s:|-]+\|\s*$/.test(lines[i]!) || !lines[i - 1]!.trim().startsWith('|')) continue;
    const units = cells(lines[i - 1]!).map((h) => HEADER_UNIT.exec(h)?.[1]);
    for (let r = i + 1; r < lines.length && lines[r]!.trim().startsWith('|'); r++) {
      for (const [c, cell] of cells(lines[r]!).entries()) {
        const unit = units[c];
        if (!unit || new RegExp(`\\d\\s?${UNIT}(?![\\w/])`).test(cell)) continue;
        for (const m of cell.matchAll(new RegExp(`(?<![\\w.,/:#-])(?:${NUMBER})(?![\\w.])`, 'g'))) {
          const value = Number(m[0].replaceAll(',', ''));
          figures.push({ line: r + 1, text: `${m[0]} ${unit}`, values: [value] });
        }
      }
    }
  }
  return figures;
}

/** Every number of a JSON document: numeric leaves, and strings that are only numbers (and a unit). */
function numbersOf(json: unknown, into: number[] = []): number[] {
  if (typeof json === 'number') into.push(json);
  else if (typeof json === 'string' && /^[\d\s.,/-]+(?:µs|ms|s|%)?$/.test(json)) {
    for (const n of json.match(/\d+(?:\.\d+)?/g) ?? []) into.push(Number(n));
  } else if (Array.isArray(json)) for (const v of json) numbersOf(v, into);
  else if (json && typeof json === 'object') for (const v of Object.values(json)) numbersOf(v, into);
  return into;
}

function decimals(text: string): number {
  return /\.(\d+)/.exec(text)?.[1]?.length ?? 0;
}

/** How a JSON number may be scaled to the unit a document writes (JSON keeps ms, bytes, ratios). */
const SCALES: Record<string, number[]> = {
  s: [1, 1e-3],
  min: [1, 1 / 60, 1 / 60_000],
  ms: [1, 1e-3, 1e3],
  µs: [1, 1e3],
  KB: [1, 1e-3, 1 / 1024],
  MB: [1, 1e-6, 1 / 1024 ** 2],
  '%': [1, 100],
};

/** True when some number of the JSON, rounded as the document writes the figure, is the figure. */
function backed(figure: Figure, numbers: number[]): boolean {
  const texts = figure.text.split(/\s?[–-]\s?/);
  const unit = /[^\d\s.,–-]+$/.exec(figure.text)?.[0] ?? '';
  const scales = SCALES[unit] ?? [1];
  return figure.values.every((value, i) => {
    const step = 10 ** -decimals(texts[i] ?? '');
    return numbers.some((n) => scales.some((k) => Math.abs(n * k - value) <= step / 2 + 1e-9));
  });
}

/** The JSON files under docs/ a document links, relative to the repository. */
function linkedJson(doc: string, markdown: string): string[] {
  const targets = [...markdown.matchAll(/\]\(([^)\s#]+\.json)(?:#[^)]*)?\)/g)].map((m) => m[1]!);
  return [...new Set(targets.map((t) => relative(root, resolve(root, dirname(doc), t))))].filter((p) =>
    p.startsWith('docs/'),
  );
}

/** The figures of a document that neither a linked JSON nor the allow-list accounts for. */
function unbacked(doc: string, markdown: string, readJson: (path: string) => unknown): string[] {
  const numbers = linkedJson(doc, markdown).flatMap((p) => numbersOf(readJson(p)));
  const allowed = NOT_MEASURED[doc] ?? {};
  return figuresOf(markdown)
    .filter((f) => !(f.text in allowed) && !backed(f, numbers))
    .map((f) => `${doc}:${f.line} "${f.text}"`);
}

function documents(): string[] {
  const found = ['README.md'];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md') && !GENERATED_DOCS.has(path)) found.push(path);
    }
  };
  walk('docs');
  return found.sort();
}

const readJson = (path: string): unknown => JSON.parse(readFileSync(join(root, path), 'utf8'));

describe('measured figures in the docs come from JSON', () => {
  it.each(documents())('%s', (doc) => {
    const markdown = readFileSync(join(root, doc), 'utf8');
    expect(unbacked(doc, markdown, readJson)).toEqual([]);
  });

  it('every allow-listed figure is still in its document (the list does not outlive the text)', () => {
    for (const [doc, figures] of Object.entries(NOT_MEASURED)) {
      const texts = figuresOf(readFileSync(join(root, doc), 'utf8')).map((f) => f.text);
      for (const figure of Object.keys(figures)) expect(texts, `${doc}: "${figure}"`).toContain(figure);
    }
  });

  describe('the check itself', () => {
    const json = { rows: [{ rps: 16390.4, p99: '12.94 ms', note: 'not 1,234 req/s' }], users: '2000' };
    const doc = [
      '# A page',
      'Measured with `pnpm bench` ([JSON](../benchmarks.json)): 16,390 req/s, p99 12.9 ms.',
      'A hand-copied figure: 17,500 req/s, and a ratio 3.1×.',
      'Targets are not measurements: p99 ≤ 2 s, under 100 ms; nor is `pnpm bench --rounds 3 s`.',
      '```sh',
      'echo 99 ms',
      '```',
      '<!-- x:begin -->',
      '| 42 µs |',
      '<!-- x:end -->',
    ].join('\n');
    const read = (path: string) => {
      expect(path).toBe('docs/benchmarks.json');
      return json;
    };

    it('fails on a figure no linked JSON holds, and on one only a prose string holds', () => {
      expect(unbacked('docs/adr/page.md', doc, read)).toEqual([
        'docs/adr/page.md:3 "17,500 req/s"',
        'docs/adr/page.md:3 "3.1×"',
      ]);
      expect(
        unbacked('docs/adr/page.md', 'Not from JSON: 1,234 req/s ([JSON](../benchmarks.json)).', read),
      ).toEqual(['docs/adr/page.md:1 "1,234 req/s"']);
    });

    it('fails on every figure of a page that links no JSON', () => {
      expect(unbacked('docs/page.md', 'It made 16,390 req/s.', read)).toEqual([
        'docs/page.md:1 "16,390 req/s"',
      ]);
    });

    it('reads table cells with the unit of their column header', () => {
      const table = [
        '[JSON](../benchmarks.json)',
        '',
        '| row   |    req/s | p99 ms | load average |',
        '| ----- | -------: | -----: | -----------: |',
        '| after |   16,390 |   12.9 |          1.5 |',
        '| hand  | 4,321; 9 | 44 ms  |            7 |',
      ].join('\n');
      expect(unbacked('docs/adr/page.md', table, read)).toEqual([
        'docs/adr/page.md:6 "44 ms"',
        'docs/adr/page.md:6 "4,321 req/s"',
        'docs/adr/page.md:6 "9 req/s"',
      ]);
    });

    it('reads ranges as two figures, each to be found', () => {
      const ranged = '[JSON](../benchmarks.json): 12.9–16,390 req/s, but 12.9–13.5 ms';
      expect(unbacked('docs/adr/page.md', ranged, read)).toEqual(['docs/adr/page.md:1 "12.9–13.5 ms"']);
    });
  });
});
