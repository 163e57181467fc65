import { describe, expect, it } from 'vitest';
import { htmlTable, niceTicks, svgChart, verdictBanner } from './report-html.ts';

describe('report charts and verdict', () => {
  it('axis ticks are round steps of 1, 2 or 5 times a power of ten that reach the maximum', () => {
    expect(niceTicks(87, 4)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(4, 4)).toEqual([0, 1, 2, 3, 4]);
    expect(niceTicks(0.37, 4)).toEqual([0, 0.1, 0.2, 0.3, 0.4]);
    expect(niceTicks(41, 10)).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40, 45]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });

  it('lines that stay at zero are named in a note instead of drawn', () => {
    const zero: [number, number][] = [
      [0, 0],
      [1, 0],
    ];
    const svg = svgChart(
      'Backlogs',
      [
        {
          name: 'busy',
          color: '#000',
          points: [
            [0, 0],
            [1, 7],
          ],
        },
        { name: 'idle one', color: '#111', points: zero },
        { name: 'idle two', color: '#222', points: zero },
      ],
      { unit: 'items' },
    );
    expect(svg.match(/<path /g)).toHaveLength(1);
    expect(svg).toContain('Not drawn, at 0 throughout: idle one, idle two.');
    expect(svg).toContain('>items</text>');
    const none = svgChart('Quiet', [{ name: 'idle', color: '#000', points: zero }], { unit: 'items' });
    expect(none).not.toContain('<svg');
    expect(none).toContain('Every line stayed 0 throughout: idle.');
  });

  it('the headline is PASS only when every check passed, and lists the failed ones first', () => {
    const pass = verdictBanner([{ name: 'p95 < 2000 ms', ok: true, detail: '12 ms' }]);
    expect(pass).toContain('PASS');
    const fail = verdictBanner([
      { name: 'p95 < 2000 ms', ok: true, detail: '12 ms' },
      { name: 'invariants', ok: false, detail: '1 violated' },
    ]);
    expect(fail).toContain('FAIL');
    expect(fail.indexOf('invariants')).toBeLessThan(fail.indexOf('p95'));
    expect(verdictBanner([])).toContain('FAIL');
  });

  it('tables escape their text and line numbers up on the right', () => {
    const table = htmlTable([
      ['what', 'n'],
      ['<b>', 12345],
    ]);
    expect(table).toContain('&lt;b&gt;');
    expect(table).toContain('<td class="n">12,345</td>');
  });
});
