// A load test's report as one self-contained HTML file (inline SVG charts, no script, nothing
// fetched), so it opens in any browser from loadtests/results/.

export type Series = { name: string; color: string; points: [number, number][] };

export const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/**
 * Round axis steps (1, 2 or 5 times a power of ten) from 0 to at least `max`, about `count`
 * of them: 0, 20, 40, 60, 80, 100 rather than 0, 22, 44, 65, 87.
 */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  // The step whose number of intervals comes closest to `count` (the finer one on a tie).
  const intervals = (m: number) => Math.ceil(max / (m * power) - 1e-9);
  const m = [1, 2, 5, 10].reduce((best, c) =>
    Math.abs(intervals(c) - count) < Math.abs(intervals(best) - count) ? c : best,
  );
  const step = m * power;
  const ticks: number[] = [];
  for (let v = 0; v < max + step / 2 && ticks.length <= count * 3; v += step)
    ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks.length * step).toPrecision(12)));
  return ticks;
}

/** A number for an axis or a table: thousands separated, at most the decimals it needs. */
export function num(v: number, decimals = 1): string {
  if (!Number.isFinite(v)) return '–';
  return v.toLocaleString('en-US', { maximumFractionDigits: Math.abs(v) >= 100 ? 0 : decimals });
}

/** `unit`: the y axis' ("answers/s"); `note`: what the chart shows, under its title. */
export type ChartOptions = { unit: string; format?: (v: number) => string; note?: string };

/**
 * A line per series over time (x in seconds since the start). Series that stay at zero are named
 * in a note instead of drawn (lines on top of each other read as one).
 */
export function svgChart(title: string, series: Series[], options: ChartOptions): string {
  const negative = series.some((s) => s.points.some((p) => p[1] < 0));
  series = series.map((s) => ({
    ...s,
    points: s.points.map(([t, v]): [number, number] => [t, Math.max(0, v)]),
  }));
  const drawn = series.filter((s) => s.points.some((p) => p[1] !== 0));
  const zero = series.filter((s) => !drawn.includes(s)).map((s) => s.name);
  const notes = [
    options.note,
    zero.length === 0
      ? undefined
      : `${drawn.length === 0 ? 'Every line stayed' : 'Not drawn, at'} 0 throughout: ${zero.join(', ')}.`,
    negative ? 'Samples below 0 (measurement noise) are drawn at 0.' : undefined,
  ].filter(Boolean);
  const caption = `<figcaption><b>${esc(title)}</b>${notes.map((n) => `<br><small>${esc(n!)}</small>`).join('')}</figcaption>`;
  if (drawn.length === 0) return `<figure class="empty">${caption}</figure>`;

  const fmt = options.format ?? ((v: number) => num(v));
  const w = 900;
  const h = 260;
  const m = { l: 70, r: 250, t: 22, b: 36 };
  const all = drawn.flatMap((s) => s.points);
  const xTicks = niceTicks(Math.max(1, ...all.map((p) => p[0])), 10);
  const yTicks = niceTicks(Math.max(...all.map((p) => p[1])), 4);
  const xMax = xTicks[xTicks.length - 1]!;
  const yMax = yTicks[yTicks.length - 1]!;
  const x = (v: number) => m.l + (v / xMax) * (w - m.l - m.r);
  const y = (v: number) => h - m.b - (v / yMax) * (h - m.t - m.b);
  const grid = yTicks
    .map(
      (v) =>
        `<line x1="${m.l}" x2="${w - m.r}" y1="${y(v)}" y2="${y(v)}" stroke="#e3e3e3"/>` +
        `<text x="${m.l - 6}" y="${y(v) + 4}" text-anchor="end">${esc(fmt(v))}</text>`,
    )
    .join('');
  const xAxis = xTicks
    .map(
      (v) =>
        `<line x1="${x(v)}" x2="${x(v)}" y1="${h - m.b}" y2="${h - m.b + 4}" stroke="#999"/>` +
        `<text x="${x(v)}" y="${h - m.b + 16}" text-anchor="middle">${num(v)} s</text>`,
    )
    .join('');
  const lines = drawn
    .map((s, i) => {
      const d = s.points
        .map((p, j) => `${j ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`)
        .join('');
      return (
        `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"/>` +
        `<rect x="${w - m.r + 12}" y="${m.t + i * 18}" width="12" height="3" fill="${s.color}"/>` +
        `<text x="${w - m.r + 30}" y="${m.t + i * 18 + 5}">${esc(s.name)}</text>`
      );
    })
    .join('');
  return `<figure>${caption}<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" font-family="sans-serif" font-size="11" role="img" aria-label="${esc(title)}">
<line x1="${m.l}" x2="${w - m.r}" y1="${h - m.b}" y2="${h - m.b}" stroke="#999"/>${grid}${xAxis}<text x="${(m.l + w - m.r) / 2}" y="${h - 2}" text-anchor="middle">time since the first shopper arrived</text>
<text x="${m.l}" y="${m.t - 8}" font-weight="bold">${esc(options.unit)}</text>${lines}</svg></figure>`;
}

/** A table from rows of cells (the first row is the header). Cells are text, escaped. */
export function htmlTable(rows: (string | number)[][], caption?: string): string {
  const [head = [], ...body] = rows;
  // Numbers line up on the right, words on the left.
  const cell = (tag: string, v: string | number) =>
    typeof v === 'number' ? `<${tag} class="n">${esc(num(v))}</${tag}>` : `<${tag}>${esc(v)}</${tag}>`;
  return `<table>${caption ? `<caption>${esc(caption)}</caption>` : ''}<tr>${head.map((v) => cell('th', v)).join('')}</tr>${body
    .map((r) => `<tr>${r.map((v) => cell('td', v)).join('')}</tr>`)
    .join('')}</table>`;
}

export type Check = { name: string; ok: boolean; detail?: string };

/** The headline: PASS only when every check passed, the checks listed under it (failed first). */
export function verdictBanner(checks: Check[], pending: string[] = []): string {
  const pass = checks.length > 0 && checks.every((c) => c.ok);
  const sorted = [...checks.filter((c) => !c.ok), ...checks.filter((c) => c.ok)];
  const items = sorted
    .map(
      (c) =>
        `<li class="${c.ok ? 'ok' : 'bad'}">${c.ok ? '✓' : '✗'} ${esc(c.name)}${c.detail ? `: <span>${esc(c.detail)}</span>` : ''}</li>`,
    )
    .join('');
  const notRun = pending.map((p) => `<li class="pending">… ${esc(p)}</li>`).join('');
  return `<section class="verdict ${pass ? 'pass' : 'fail'}"><div class="word">${pass ? 'PASS' : 'FAIL'}</div>
<div><b>${pass ? 'Every threshold and invariant held.' : `${sorted.filter((c) => !c.ok).length} of ${checks.length} checks failed.`}</b><ul>${items}${notRun}</ul></div></section>`;
}

export function htmlPage(title: string, parts: string[]): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}table{border-collapse:collapse;margin:1em 0}
caption{text-align:left;font-weight:bold;padding-bottom:.3em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.n{text-align:right}th{background:#f4f4f4}figure{margin:1.5em 0}figure.empty{color:#555}
figcaption{margin-bottom:.3em}figcaption small{color:#555}.verdict{display:flex;gap:1.5em;align-items:flex-start;padding:1em;border-radius:6px;margin:1em 0}
.verdict.pass{background:#e8f5e9;border:2px solid #2e7d32}.verdict.fail{background:#fdecea;border:2px solid #c62828}
.verdict .word{font-size:2.6em;font-weight:bold;letter-spacing:.05em}.pass .word{color:#2e7d32}.fail .word{color:#c62828}
.verdict ul{margin:.4em 0;padding-left:1.2em;list-style:none}.verdict li.bad{color:#c62828;font-weight:bold}.verdict li.pending{color:#666}
</style>
</head><body><h1>${esc(title)}</h1>${parts.join('\n')}</body></html>`;
}

export const COLORS = [
  '#1f77b4',
  '#2ca02c',
  '#d62728',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
];
