// The bench reporting layer on a results document built in memory: report.md
// sections and rows, standalone SVG charts, and compare()'s noise rule.
// Pure computation: no router, no namespaces, no processes.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compare, comparisonMarkdown, comparisonText, judge, regressions } from '../bench/report/compare.js';
import { writeReport, writeResults } from '../bench/report/files.js';
import { renderReport } from '../bench/report/markdown.js';
import { parseBw, parseLat } from '../bench/perftest-parse.js';
import { guessMeasurement, guessRatio } from '../bench/report/metrics.js';
import { readResults, SCHEMA, type ResultsDocument } from '../bench/report/schema.js';
import { renderChart } from '../bench/report/svg.js';
import { svgProblems, validateRun } from '../bench/report/validate.js';
import type { Summary } from '../bench/stats.js';
import type { Series, SuiteResult } from '../bench/suite.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const S = (median: number, min: number, max: number, n = 3): Summary => ({ median, min, max, n });

/** Shaped like bench/suites/intra.ts output (figures from a full run on the 2-core CI machine). */
function intraSuite(): SuiteResult {
  return {
    name: 'intra',
    measurements: {
      memcpy_gbps_65536: S(457.24, 454.853, 457.281),
      memcpy_gbps_1048576: S(380.762, 369.747, 381.222),
      tcp_loopback_gbps: S(25.19, 23.86, 25.19),
      tcp_lat_2b_median_us: S(27.166, 26.78, 27.281),
      tcp_lat_2b_p99_us: S(38.543, 37.556, 39.834),
      router_idle_cpu_percent: S(0.6667, 0.6667, 0.6667, 1),
      ib_write_bw_gbps_65536: S(188.99, 185.97, 336.28),
      ib_write_bw_gbps_1048576: S(361.6, 350.1, 380.5),
      ib_send_lat_2b_median_us: S(6.21, 6.19, 7.24),
      ib_send_lat_2b_p99_us: S(19.8, 17.07, 21.57),
      ib_write_lat_2b_median_us: S(4.48, 4.11, 4.5),
      ib_write_lat_2b_p99_us: S(12.41, 12.36, 12.42),
    },
    ratios: {
      ib_write_bw_65536_vs_memcpy: 0.4133,
      ib_write_bw_65536_vs_tcp_loopback: 7.502,
      ib_write_bw_1048576_vs_memcpy: 0.9497,
      ib_write_bw_1048576_vs_tcp_loopback: 14.35,
      ib_send_lat_2b_median_vs_tcp: 0.2286,
      ib_send_lat_2b_p99_vs_tcp: 0.5137,
      ib_write_lat_2b_median_vs_tcp: 0.1649,
      ib_write_lat_2b_p99_vs_tcp: Number.NaN, // a zero baseline: results.json then holds null
    },
    goals: [
      { what: 'ib_write_bw 1 MiB >= 0.6x memcpy', value: 0.9497, met: true },
      { what: 'ib_write_bw 1 MiB >= 5x TCP loopback', value: 14.35, met: true },
      { what: 'ib_send_lat 2 B median <= 0.1x TCP loopback', value: 0.2286, met: false },
      { what: 'idle router CPU < 1% of a core', value: 0.6667, met: true },
    ],
  };
}

/** Shaped like bench/suites/inter.ts output. */
function interSuite(): SuiteResult {
  return {
    name: 'inter',
    measurements: {
      tcp_inter_gbps: S(15.52, 15.16, 15.97),
      tcp_inter_retransmits: S(412, 370, 413),
      tcp_inter_lat_2b_median_us: S(32.459, 31.713, 33.615),
      tcp_inter_lat_2b_p99_us: S(52.302, 44.561, 52.318),
      router_idle_cpu_percent_h1: S(0.3333, 0.3333, 0.3333, 1),
      router_idle_cpu_percent_h2: S(0, 0, 0, 1),
      ib_write_bw_gbps_1048576: S(11.2, 10.8, 11.9),
      ib_send_lat_2b_median_us: S(35.1, 34.2, 36.9),
      ib_send_lat_2b_p99_us: S(61.4, 55.0, 70.2),
      ib_write_lat_2b_median_us: S(33.9, 33.1, 35.0),
      ib_write_lat_2b_p99_us: S(58.7, 52.3, 66.1),
      ib_write_bw_gbps_1qp: S(9.8, 9.5, 10.4),
      ib_write_bw_gbps_64qp: S(12.6, 12.1, 13.3),
    },
    ratios: {
      ib_write_bw_1048576_vs_iperf3: 0.7216,
      ib_send_lat_2b_median_vs_tcp: 1.0814,
      ib_send_lat_2b_p99_vs_tcp: 1.174,
      ib_write_lat_2b_median_vs_tcp: 1.0444,
      ib_write_lat_2b_p99_vs_tcp: 1.1223,
      ib_write_bw_64qp_vs_1qp: 1.2857,
    },
    goals: [
      { what: 'ib_write_bw 1 MiB >= 0.9x iperf3 single stream', value: 0.7216, met: false },
      { what: 'ib_send_lat 2 B median <= 1.2x TCP ping-pong', value: 1.0814, met: true },
      { what: 'aggregate ib_write_bw with 64 QPs >= 0.9x 1 QP', value: 1.2857, met: true },
    ],
  };
}

const SIZES = Array.from({ length: 23 }, (_, i) => 2 ** (i + 1)); // 2 B .. 8 MiB

/** What a future sweep suite would declare: the three chart shapes the issue asks for. */
function sweepSuite(): SuiteResult {
  const bw = (tool: string, peak: number): Series['lines'][number] => ({
    name: tool,
    points: SIZES.map((size) => {
      const g = peak * size / (size + 16384);
      return { x: size, median: g, min: g * 0.95, max: g * 1.03, n: 3 };
    }),
  });
  const bwSeries: Series = {
    id: 'bw-vs-size', title: 'Bandwidth against message size', kind: 'line',
    x: { label: 'message size', unit: 'B', scale: 'log2', format: 'bytes' },
    y: { label: 'bandwidth', unit: 'Gb/s' }, better: 'higher',
    lines: [bw('ib_write_bw', 360), bw('ib_read_bw', 300), bw('send <inline> & "q"', 250)],
    marks: [{ y: 25.19, label: 'TCP loopback' }],
  };
  const latSeries: Series = {
    id: 'lat-percentiles', title: 'Latency percentiles, 2 B', kind: 'bar',
    x: { label: 'tool' }, y: { label: 'latency', unit: 'µs' }, better: 'lower',
    lines: [
      { name: 'median', points: [{ x: 'ib_send_lat', median: 6.21, min: 6.19, max: 7.24 }, { x: 'ib_write_lat', median: 4.48, min: 4.11, max: 4.5 }] },
      { name: 'p99', points: [{ x: 'ib_send_lat', median: 19.8, min: 17.07, max: 21.57 }, { x: 'ib_write_lat', median: 12.41, min: 12.36, max: 12.42 }] },
      { name: 'p99.9', points: [{ x: 'ib_send_lat', median: 41.2, min: 33.0, max: 52.9 }, { x: 'ib_write_lat', median: 30.1, min: 28.8, max: 35.5 }] },
    ],
  };
  const qps = [1, 2, 4, 8, 16, 32, 64];
  const scaling: Series = {
    id: 'scaling-qps', title: 'Aggregate bandwidth against QPs', kind: 'line',
    x: { label: 'QPs', scale: 'log2' }, y: { label: 'aggregate bandwidth', unit: 'Gb/s' },
    lines: [{ name: '64 KiB writes', points: qps.map((q) => ({ x: q, median: Math.min(300, 90 * Math.sqrt(q)), min: Math.min(290, 85 * Math.sqrt(q)), max: Math.min(320, 95 * Math.sqrt(q)), n: 3 })) }],
  };
  const cpu: Series = {
    id: 'router-cpu', title: 'Router CPU against containers', kind: 'line',
    x: { label: 'containers', scale: 'log2' }, y: { label: 'router CPU', unit: '%' }, better: 'lower',
    lines: [{ name: 'router', points: [2, 4, 8, 16, 32, 64].map((n) => ({ x: n, median: 12 * n, min: 11 * n, max: 13 * n })) }],
  };
  return {
    name: 'sweep',
    measurements: { ib_write_bw_gbps_8388608: S(355.2, 340.1, 362.8) },
    ratios: {},
    goals: [],
    series: [bwSeries, latSeries, scaling, cpu],
    meta: { ib_write_bw_gbps_8388608: { unit: 'Gb/s', better: 'higher' } },
  };
}

function resultsDoc(suites: SuiteResult[]): ResultsDocument {
  const doc: ResultsDocument = {
    schema: SCHEMA, when: '2026-11-21T06:32:56.587Z', quick: false,
    machine: {
      cpus: 2, cpuModel: 'AMD EPYC', memBytes: 25276514304, kernel: '6.18.44-fc-v595',
      loadavgBefore: [0.57, 1.24, 1.39], loadavgAfter: [0.87, 1.28, 1.4], node: 'v20.20.2', arch: 'x64',
    },
    commit: '0a831a0abcde',
    suites,
  };
  // what readResults gets back: NaN becomes null on the way through JSON
  return JSON.parse(JSON.stringify(doc)) as ResultsDocument;
}

/** Well-formed enough for a browser (bench/report/validate.ts, what `check` applies to every chart file). */
function checkXml(svg: string): void {
  const problems = svgProblems(svg);
  if (problems.length) throw new Error(problems.join('; '));
}

/** Escaped text of the SVG as a browser shows it. */
function shownText(svg: string): string {
  return [...svg.matchAll(/>([^<]+)</g)].map((m) => m[1]!.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&')).join('\n');
}

describe('bench report', () => {
  const doc = resultsDoc([intraSuite(), interSuite(), sweepSuite()]);
  const { markdown, charts } = renderReport(doc);

  it('has the header: date, machine, load, mode', () => {
    expect(markdown).toMatch(/^# freeflow-ts benchmark report\n/);
    expect(markdown).toContain('**Date:** 2026-11-21T06:32:56.587Z');
    expect(markdown).toContain('**Mode:** full');
    expect(markdown).toContain('**Machine:** 2 CPUs (AMD EPYC), 23.5 GiB memory, kernel 6.18.44-fc-v595, x64, node v20.20.2');
    expect(markdown).toContain('before 0.57 / 1.24 / 1.39, after 0.87 / 1.28 / 1.40');
    expect(markdown).toContain('**Commit:** 0a831a0abcde');
    expect(renderReport({ ...doc, quick: true }).markdown).toContain('**Mode:** quick');
  });

  it('has every section and table row of every suite', () => {
    for (const s of doc.suites) {
      const at = markdown.indexOf(`\n## ${s.name}\n`);
      expect(at, s.name).toBeGreaterThan(0);
      const next = markdown.indexOf('\n## ', at + 1);
      const sec = markdown.slice(at, next < 0 ? undefined : next);
      for (const h of ['### Measurements', '### Ratios', '### Goals', '### Charts']) expect(sec, `${s.name} ${h}`).toContain(`\n${h}\n`);
      for (const [k, v] of Object.entries(s.measurements)) {
        expect(sec).toMatch(new RegExp(`\\n\\| \`${k}\` \\| [^|]+ \\| [^|]+ \\| [^|]+ \\| ${v.n} \\|`));
      }
      for (const k of Object.keys(s.ratios)) expect(sec).toContain(`| \`${k}\` | `);
      for (const g of s.goals) expect(sec).toContain(`| ${g.what} | `);
      for (const c of charts.filter((ch) => ch.fileName.startsWith(`${s.name}-`))) expect(sec).toContain(`](${c.fileName})`);
    }
    expect(markdown).toContain('| `memcpy_gbps_65536` | 457.2 | 454.9 | 457.3 | 3 | Gb/s | higher |');
    expect(markdown).toContain('| `ib_send_lat_2b_p99_us` | 19.8 | 17.07 | 21.57 | 3 | µs | lower |');
    expect(markdown).toContain('| `ib_write_lat_2b_p99_vs_tcp` | n/a | lower |'); // NaN, null after JSON
    expect(markdown).toContain('| ib_write_bw 1 MiB >= 0.9x iperf3 single stream | 0.7216 | **not met** |');
    expect(markdown).toContain('| ib_send_lat 2 B median <= 1.2x TCP ping-pong | 1.081 | met |');
    expect(markdown).not.toMatch(/NaN|undefined/);
  });

  it('gives suites without series a ratio chart and charts of their measurements', () => {
    const names = charts.map((c) => c.fileName);
    expect(names).toEqual(expect.arrayContaining(['intra-ratios.svg', 'intra-measurements-gbps.svg', 'intra-measurements-us.svg', 'inter-ratios.svg', 'inter-measurements-count.svg']));
    expect(names).toEqual(expect.arrayContaining(['sweep-bw-vs-size.svg', 'sweep-lat-percentiles.svg', 'sweep-scaling-qps.svg', 'sweep-router-cpu.svg']));
    expect(names.filter((n) => n.startsWith('sweep-'))).toHaveLength(4); // its own series replace the automatic ones
    expect(new Set(names).size).toBe(names.length);
    for (const c of charts) expect(markdown).toContain(`![${c.title}](${c.fileName})`);
  });

  it('has a checker that catches broken SVG', () => {
    const ok = '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><g><text x="1" y="2">a &amp; b</text></g></svg>\n';
    checkXml(ok);
    for (const bad of [
      ok.replace('</g>', ''), // unclosed
      ok.replace('<g>', '<g><rect>'), // wrong nesting
      ok.replace('a &amp; b', 'a & b'), // raw ampersand
      ok.replace('a &amp; b', 'a < b'), // raw angle bracket
      ok.replace('x="1"', 'x="NaN"'),
      ok.replace('x="1"', 'x=1'), // unquoted attribute
      ok.replace(' xmlns="http://www.w3.org/2000/svg"', ''),
    ]) expect(() => checkXml(bad), bad).toThrow();
  });

  it('renders each chart as a standalone, well-formed SVG', () => {
    for (const c of charts) {
      try { checkXml(c.svg); } catch (e) { throw new Error(`${c.fileName}: ${(e as Error).message}`); }
    }
  });

  it('labels axes with units and lists every line in the legend', () => {
    const svg = (f: string) => shownText(charts.find((c) => c.fileName === f)!.svg);
    const bw = svg('sweep-bw-vs-size.svg');
    for (const s of ['Bandwidth against message size', 'message size', 'bandwidth (Gb/s)', 'ib_write_bw', 'ib_read_bw', 'send <inline> & "q"', '2 B', '8 MiB', 'TCP loopback']) expect(bw).toContain(s);
    const lat = svg('sweep-lat-percentiles.svg');
    for (const s of ['latency (µs)', 'tool', 'median', 'p99', 'p99.9', 'ib_send_lat', 'ib_write_lat']) expect(lat).toContain(s);
    const qp = svg('sweep-scaling-qps.svg');
    for (const s of ['QPs', 'aggregate bandwidth (Gb/s)', '64 KiB writes', '1', '64']) expect(qp).toContain(s);
    const ratios = svg('intra-ratios.svg');
    for (const s of ['measured / baseline (x)', 'ratio of medians', 'parity (1x)', 'ib_write_bw_65536_vs_memcpy']) expect(ratios).toContain(s);
    expect(svg('inter-measurements-us.svg')).toContain('time (µs)');
    // escaped in the file, not raw
    expect(charts.find((c) => c.fileName === 'sweep-bw-vs-size.svg')!.svg).toContain('send &lt;inline&gt; &amp; &quot;q&quot;');
  });

  it('draws an error bar for each point with a spread and one marker per point', () => {
    const bw = charts.find((c) => c.fileName === 'sweep-bw-vs-size.svg')!.svg;
    expect(bw.match(/<circle [^>]*r="3"[^>]*>/g)!.length).toBe(3 * SIZES.length + 3); // points + legend markers
    expect(bw.match(/<path d="M[^"]*V[^"]*H/g)!.length).toBeGreaterThan(3 * SIZES.length / 2);
  });

  it('survives empty and degenerate series', () => {
    const empty: Series = { id: 'e', title: 'empty', kind: 'line', x: { label: 'x', scale: 'log2' }, y: { label: 'y', scale: 'log10' }, lines: [] };
    const flat: Series = { id: 'f', title: 'flat', kind: 'bar', x: { label: 'x' }, y: { label: 'y' }, lines: [{ name: 'a', points: [{ x: 'only', median: 0 }] }] };
    const bad: Series = { id: 'b', title: 'bad', kind: 'line', x: { label: 'x', scale: 'log2' }, y: { label: 'y' }, lines: [{ name: 'a', points: [{ x: 0, median: 1 }, { x: 4, median: Number.NaN }, { x: 8, median: 3, min: -1, max: 4 }] }] };
    for (const s of [empty, flat, bad]) checkXml(renderChart(s));
    expect(renderChart(empty)).toContain('no data');
  });

  it('writes report.md and the charts next to results.json, and reads them back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
    dirs.push(dir);
    writeResults(dir, doc);
    writeReport(dir, readResults(dir));
    const files = readdirSync(dir);
    expect(files).toEqual(expect.arrayContaining(['results.json', 'report.md', ...charts.map((c) => c.fileName)]));
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toBe(markdown);
  });

  it('checks a written run: well formed passes, each kind of damage is named', () => {
    const write = (d: ResultsDocument): string => {
      const dir = mkdtempSync(join(tmpdir(), 'bench-check-'));
      dirs.push(dir);
      writeResults(dir, d);
      writeReport(dir, d);
      return dir;
    };
    const all = ['intra', 'inter', 'sweep'];
    const good = write(doc);
    expect(validateRun(good, { suites: all, shapes: true })).toEqual([]);
    expect(validateRun(join(good, 'results.json'))).toEqual([]);
    expect(validateRun(good, { suites: [...all, 'scale'] })).toEqual(['suite scale missing (have: intra, inter, sweep)']);

    // without the sweep's own charts nothing shows bandwidth against size, percentiles or scaling
    expect(validateRun(write(resultsDoc([intraSuite(), interSuite()])), { suites: ['intra', 'inter'], shapes: true }))
      .toEqual(['no chart of bandwidth against message size', 'no chart of latency percentiles', 'no chart of a scaling curve']);

    const damaged = (f: (d: ResultsDocument) => void): string[] => {
      const d = structuredClone(doc);
      f(d);
      return validateRun(write(d), { suites: all });
    };
    expect(damaged((d) => { d.suites[0]!.measurements.memcpy_gbps_65536!.min = 500; }))
      .toEqual(['suite intra: measurement memcpy_gbps_65536 has median outside [min, max]']);
    expect(damaged((d) => { (d.suites[1]!.measurements as Record<string, unknown>).tcp_inter_gbps = { median: 1 }; }))
      .toEqual(['suite inter: measurement tcp_inter_gbps is not {median, min, max, n}']);
    expect(damaged((d) => { d.suites[1]!.measurements = {}; })).toEqual(['suite inter: no measurements', 'suite inter: no measurement has a number']);
    expect(damaged((d) => { d.suites[2]!.series![0]!.lines = []; })).toContain('suite sweep series bw-vs-size: no lines');
    expect(damaged((d) => { d.suites[2]!.series![1]!.id = 'a b'; })).toContain('suite sweep series a b: id "a b" is not file-name safe');
    expect(damaged((d) => { d.suites[2]!.meta = { nope: { unit: 'x' } }; })).toEqual(['suite sweep: meta for unknown name nope']);

    // report.md and chart files: a missing link, a missing file, a broken file
    const dir = write(doc);
    const report = join(dir, 'report.md');
    writeFileSync(report, readFileSync(report, 'utf8').replace('](sweep-lat-percentiles.svg)', ']()'));
    rmSync(join(dir, 'intra-ratios.svg'));
    writeFileSync(join(dir, 'inter-ratios.svg'), '<svg>');
    expect(validateRun(dir)).toEqual([
      'intra-ratios.svg missing',
      'inter-ratios.svg: no XML prolog or SVG namespace',
      'inter-ratios.svg: unclosed <svg>',
      'report.md does not link sweep-lat-percentiles.svg',
    ]);
    rmSync(report);
    expect(validateRun(dir)).toEqual(['report.md missing']);
    writeFileSync(join(dir, 'results.json'), '{"schema":"something else"}');
    expect(validateRun(dir)[0]).toMatch(/not a freeflow-ts bench results file/);
  });

  it('parses perftest tables, including the -nan a loaded machine prints for t_stdev', () => {
    const bw = [
      ' #bytes     #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   MsgRate[Mpps]',
      ' 65536      5000             187.25             186.97               0.356633',
      ' 1048576    5000             362.13             361.60               0.043106',
      '---------------------------------------------------------------------------------------',
    ].join('\n');
    expect(parseBw(bw)).toEqual([
      { bytes: 65536, iterations: 5000, bwPeakMBps: 187.25, bwAvgMBps: 186.97, msgRateMpps: 0.356633 },
      { bytes: 1048576, iterations: 5000, bwPeakMBps: 362.13, bwAvgMBps: 361.6, msgRateMpps: 0.043106 },
    ]);
    const lat = [
      ' #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] ',
      ' 2       100          2.50           18000.00     60.00        700.10       -nan        24000.00    96000.00',
      ' 4       1000         4.11           40.02        4.48         4.61         0.90        12.41       30.10',
    ].join('\n');
    const rows = parseLat(lat);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ bytes: 2, typicalUs: 60, p99Us: 24000, p999Us: 96000 });
    expect(rows[0]!.stdevUs).toBeNaN();
    expect(rows[1]).toEqual({ bytes: 4, iterations: 1000, minUs: 4.11, maxUs: 40.02, typicalUs: 4.48, avgUs: 4.61, stdevUs: 0.9, p99Us: 12.41, p999Us: 30.1 });
    expect(parseLat(bw)).toEqual([]); // a bandwidth table has five columns
    expect(parseBw(lat)).toEqual([]);
  });

  it('guesses units and directions from the names the suites use', () => {
    expect(guessMeasurement('ib_write_bw_gbps_65536')).toEqual({ unit: 'Gb/s', better: 'higher' });
    expect(guessMeasurement('tcp_inter_lat_2b_p99_us')).toEqual({ unit: 'µs', better: 'lower' });
    expect(guessMeasurement('router_idle_cpu_percent_h2')).toEqual({ unit: '%', better: 'lower' });
    expect(guessMeasurement('tcp_inter_retransmits')).toEqual({ unit: 'count', better: 'lower' });
    expect(guessMeasurement('qp_create_per_s')).toEqual({ unit: '1/s', better: 'higher' });
    expect(guessRatio('ib_write_bw_1048576_vs_memcpy')).toEqual({ unit: 'x', better: 'higher' });
    expect(guessRatio('ib_send_lat_2b_median_vs_tcp')).toEqual({ unit: 'x', better: 'lower' });
    expect(guessRatio('ib_write_bw_64qp_vs_1qp')).toEqual({ unit: 'x', better: 'higher' });
  });
});

describe('bench compare', () => {
  const old = resultsDoc([intraSuite(), interSuite(), sweepSuite()]);
  const changed = (): ResultsDocument => {
    const d = resultsDoc([intraSuite(), interSuite(), sweepSuite()]);
    const intra = d.suites[0]!.measurements;
    intra.ib_write_bw_gbps_1048576 = S(290.0, 281.0, 300.2); // -20%: well below 350.1 - 5%
    intra.ib_send_lat_2b_median_us = S(6.45, 6.3, 6.6); // +3.9%: inside [6.19, 7.24] widened
    intra.ib_write_lat_2b_median_us = S(3.1, 3.0, 3.3); // -31%: faster
    intra.tcp_lat_2b_p99_us = S(41.8, 40.2, 43.0); // baseline moved up 8.5%, beyond 39.834 + 1.93
    delete intra.memcpy_gbps_65536;
    d.suites[0]!.measurements.new_metric_us = S(1, 1, 1);
    const sweep = d.suites[2]!;
    const line = sweep.series![0]!.lines[0]!;
    line.points[22] = { ...line.points[22]!, median: line.points[22]!.median * 0.5 }; // 8 MiB ib_write_bw halved
    return d;
  };
  const c = compare(old, changed());
  const row = (suite: string, name: string) => c.rows.find((r) => r.suite === suite && r.name === name)!;

  it('flags a regression beyond the noise band and not a change inside it', () => {
    expect(row('intra', 'ib_write_bw_gbps_1048576')).toMatchObject({ verdict: 'regression', better: 'higher', unit: 'Gb/s' });
    expect(row('intra', 'ib_write_bw_gbps_1048576').changePct).toBeCloseTo(-19.8, 1);
    expect(row('intra', 'ib_send_lat_2b_median_us').verdict).toBe('within noise');
    expect(row('intra', 'ib_write_lat_2b_median_us').verdict).toBe('improvement');
    expect(row('intra', 'tcp_lat_2b_p99_us').verdict).toBe('regression');
    expect(row('inter', 'tcp_inter_gbps').verdict).toBe('within noise');
    expect(row('sweep', 'bw-vs-size: ib_write_bw @ 8 MiB').verdict).toBe('regression');
    expect(row('sweep', 'bw-vs-size: ib_write_bw @ 4 MiB').verdict).toBe('within noise');
    expect(regressions(c).map((r) => r.name).sort()).toEqual(['bw-vs-size: ib_write_bw @ 8 MiB', 'ib_write_bw_gbps_1048576', 'tcp_lat_2b_p99_us']);
    expect(c.onlyInA).toEqual(['intra/memcpy_gbps_65536']);
    expect(c.onlyInB).toEqual(['intra/new_metric_us']);
  });

  it('finds nothing when a run is compared with itself', () => {
    const same = compare(old, old);
    expect(regressions(same)).toHaveLength(0);
    expect(same.rows.every((r) => r.verdict === 'within noise' || r.verdict === 'n/a')).toBe(true);
  });

  it('applies the band rule at its edges, with the direction and declared noise', () => {
    const o = S(100, 95, 104);
    expect(judge(o, S(109, 0, 0), 'higher', 0.05).verdict).toBe('within noise'); // 104 + 5 = 109
    expect(judge(o, S(109.1, 0, 0), 'higher', 0.05).verdict).toBe('improvement');
    expect(judge(o, S(89.9, 0, 0), 'higher', 0.05).verdict).toBe('regression');
    expect(judge(o, S(89.9, 0, 0), 'lower', 0.05).verdict).toBe('improvement');
    expect(judge(o, S(120, 0, 0), 'none', 0.05).verdict).toBe('changed');
    expect(judge(o, S(120, 0, 0), 'lower', 0.05, 20).verdict).toBe('within noise');
    expect(judge(S(Number.NaN, 1, 2), S(1, 1, 1), 'higher', 0.05).verdict).toBe('n/a');
  });

  it('prints and writes the comparison', () => {
    const text = comparisonText(c);
    expect(text).toMatch(/ib_write_bw_gbps_1048576 +Gb\/s +higher +361\.6 +290 +-19\.8% +\[\S+, \S+\] +regression/);
    expect(text).toContain('summary: 3 regression(s), 1 improvement(s)');
    const md = comparisonMarkdown(c);
    expect(md).toContain('| `ib_write_bw_gbps_1048576` | Gb/s | higher | 361.6 | 290 | -19.8% |');
    expect(md).toContain('**regression**');
    expect(md).toContain('`intra/memcpy_gbps_65536`');
  });

  it('notes when the runs are not alike', () => {
    const q = compare(old, { ...changed(), quick: true, machine: { ...old.machine, cpus: 8 } });
    expect(q.notes.join('\n')).toMatch(/old is full, new is quick/);
    expect(q.notes.join('\n')).toMatch(/different machines/);
    // other work before the run is noise; the run's own busy-polling load after it is not
    const busy = compare(old, { ...old, machine: { ...old.machine, loadavgBefore: [1.5, 1, 1] } });
    expect(busy.notes.join('\n')).toMatch(/new: 1-minute load was 1.50 on 2 CPUs when the run started/);
    expect(compare(old, { ...old, machine: { ...old.machine, loadavgAfter: [3, 2, 1] } }).notes.join('\n')).not.toMatch(/load/);
  });
});
