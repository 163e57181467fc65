// A load test's report as one self-contained HTML file (inline SVG charts, no script, nothing
// fetched), so it opens in any browser from loadtests/results/.

export type Series = { name: string; color: string; points: [number, number][] };

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A line per series over time (x in seconds). */
export function svgChart(title: string, yLabel: string, series: Series[]): string {
  const w = 900;
  const h = 260;
  const m = { l: 60, r: 160, t: 24, b: 32 };
  const all = series.flatMap((s) => s.points);
  const xMax = Math.max(1, ...all.map((p) => p[0]));
  const yMax = Math.max(1, ...all.map((p) => p[1])) * 1.05;
  const x = (v: number) => m.l + (v / xMax) * (w - m.l - m.r);
  const y = (v: number) => h - m.b - (v / yMax) * (h - m.t - m.b);
  const ticks = (max: number, n: number) => Array.from({ length: n + 1 }, (_, i) => (max * i) / n);
  const num = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(v >= 10 ? 0 : 1));
  const grid = ticks(yMax, 4)
    .map(
      (v) =>
        `<line x1="${m.l}" x2="${w - m.r}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>` +
        `<text x="${m.l - 6}" y="${y(v) + 4}" text-anchor="end">${num(v)}</text>`,
    )
    .join('');
  const xTicks = ticks(xMax, 10)
    .map((v) => `<text x="${x(v)}" y="${h - m.b + 16}" text-anchor="middle">${Math.round(v)}</text>`)
    .join('');
  const lines = series
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
  return `<figure><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" font-family="sans-serif" font-size="11">
${grid}${xTicks}<text x="${(m.l + w - m.r) / 2}" y="${h - 2}" text-anchor="middle">seconds since the first arrival</text>
<text x="12" y="${m.t - 8}">${esc(yLabel)}</text>${lines}</svg></figure>`;
}

/** A table from rows of cells (the first row is the header). */
export function htmlTable(rows: (string | number)[][]): string {
  const [head = [], ...body] = rows;
  const cell = (tag: string, v: string | number) => `<${tag}>${esc(String(v))}</${tag}>`;
  return `<table><tr>${head.map((v) => cell('th', v)).join('')}</tr>${body
    .map((r) => `<tr>${r.map((v) => cell('td', v)).join('')}</tr>`)
    .join('')}</table>`;
}

export function htmlPage(title: string, parts: string[]): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}
figure{margin:1.5em 0}figcaption{font-weight:bold;margin-bottom:.3em}pre{background:#f8f8f8;padding:1em}</style>
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
  '#17becf',
];
