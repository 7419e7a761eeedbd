#!/usr/bin/env node
/**
 * Benchmark runner.
 *
 *   npm run bench -- [--quick] [--check] [suite...]
 *       runs the suites (all of them when none is named); writes
 *       bench/results/<timestamp>/results.json, report.md and its .svg
 *       charts; prints the figures. --check then validates what it wrote
 *       (exit 1 if it is not well formed): what CI runs after --quick.
 *   npm run bench -- check RESULTS [suite...]
 *       validates an existing results directory (bench/report/validate.ts).
 *   npm run bench -- compare OLD NEW [--noise F] [--fail-on-regression] [--out FILE.md]
 *       OLD and NEW are results.json files or their directories.
 *   npm run bench -- report RESULTS [--out DIR]
 *       (re)writes report.md and the charts for an existing results.json.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ROOT } from '../test/harness/paths.js';
import { compare, comparisonMarkdown, comparisonText, DEFAULT_NOISE, regressions } from './report/compare.js';
import { writeReport, writeResults } from './report/files.js';
import { readResults, resultsPath, SCHEMA, type ResultsDocument } from './report/schema.js';
import { suiteText } from './report/terminal.js';
import { validateRun } from './report/validate.js';
import type { SuiteContext, SuiteResult } from './suite.js';

type Suite = (ctx: SuiteContext) => Promise<SuiteResult>;

// Loaded on use: compare and report need none of the harness the suites pull in.
const SUITES: Record<string, () => Promise<Suite>> = {
  intra: async () => (await import('./suites/intra.js')).intra,
  inter: async () => (await import('./suites/inter.js')).inter,
  sweep: async () => (await import('./suites/sweep.js')).sweep,
  scale: async () => (await import('./suites/scale.js')).scale,
  control: async () => (await import('./suites/control.js')).control,
};

function usage(msg?: string): never {
  if (msg) console.error(msg);
  console.error([
    `usage: npm run bench -- [--quick] [--check] [${Object.keys(SUITES).join('|')}]...`,
    '       npm run bench -- check RESULTS [suite...]',
    '       npm run bench -- compare OLD NEW [--noise F] [--fail-on-regression] [--out FILE.md]',
    '       npm run bench -- report RESULTS [--out DIR]',
  ].join('\n'));
  process.exit(2);
}

/** npm runs scripts from the package root; paths on the command line mean the caller's directory. */
function userPath(p: string): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), p);
}

/** Splits `--name value` options from positional arguments; flags listed in `bare` take no value. */
function parse(args: string[], valued: string[], bare: string[]): { pos: string[]; opt: Map<string, string> } {
  const pos: string[] = [], opt = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) { pos.push(a); continue; }
    if (bare.includes(a)) opt.set(a, '');
    else if (valued.includes(a) && i + 1 < args.length) opt.set(a, args[++i]!);
    else usage(`unknown or incomplete option ${a}`);
  }
  return { pos, opt };
}

function commit(): string | undefined {
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    let dirty = false;
    try { execFileSync('git', ['diff', '--quiet', 'HEAD'], { cwd: ROOT, stdio: 'ignore' }); } catch { dirty = true; }
    return dirty ? `${head}+dirty` : head;
  } catch {
    return undefined; // not a git checkout
  }
}

async function run(args: string[]): Promise<void> {
  const { pos: names, opt } = parse(args, [], ['--quick', '--check']);
  const quick = opt.has('--quick');
  for (const n of names) if (!SUITES[n]) usage(`unknown suite ${n}`);
  const chosen = names.length ? names : Object.keys(SUITES);
  const tty = process.stderr.isTTY;
  const t0 = Date.now();
  const line = (msg: string) => {
    const s = Math.round((Date.now() - t0) / 1000);
    const text = `[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${msg}`;
    if (tty) process.stderr.write(`\r\x1b[K${text.slice(0, (process.stderr.columns || 120) - 1)}`); else console.error(text);
  };
  const loadavgBefore = loadavg();
  const results: SuiteResult[] = [];
  const failed: { name: string; error: string }[] = [];
  for (const [i, n] of chosen.entries()) {
    const ctx: SuiteContext = { quick, progress: (msg) => line(`(${i + 1}/${chosen.length}) ${msg}`) };
    const s0 = performance.now();
    try {
      const r = await (await SUITES[n]!())(ctx);
      results.push({ ...r, seconds: Math.round((performance.now() - s0) / 100) / 10 });
    } catch (e) {
      // the other suites still run and what they measured is still written; the run exits 1
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      if (tty) process.stderr.write('\r\x1b[K');
      console.error(`suite ${n} failed:\n${error}`);
      failed.push({ name: n, error: error.slice(0, 20_000) });
      process.exitCode = 1;
    }
  }
  if (tty) process.stderr.write('\r\x1b[K');
  const when = new Date().toISOString();
  const machine = {
    cpus: cpus().length, cpuModel: cpus()[0]?.model, memBytes: totalmem(), kernel: release(),
    loadavgBefore, loadavgAfter: loadavg(), node: process.version, arch: arch(),
  };
  const c = commit();
  const doc: ResultsDocument = { schema: SCHEMA, when, quick, machine, ...(c ? { commit: c } : {}), suites: results, ...(failed.length ? { failed } : {}) };
  const dir = join(ROOT, 'bench', 'results', when.replace(/[:.]/g, '-'));
  const json = writeResults(dir, doc);
  for (const r of results) console.log(`\n${suiteText(r)}`);
  for (const f of failed) console.log(`\n== ${f.name}: FAILED (see above)`);
  console.log(`\nresults: ${json} (${results.map((r) => `${r.name} ${r.seconds} s`).join(', ')}; total ${Math.round((Date.now() - t0) / 1000)} s)`);
  // the figures are safe on disk by now; a report bug must not hide them (`report` mode can redo it)
  try {
    console.log(`report:  ${writeReport(dir, doc)}`);
  } catch (e) {
    console.error(`report.md not written: ${e instanceof Error ? e.stack : String(e)}`);
    process.exitCode = 1;
  }
  if (opt.has('--check')) checkRun(dir, chosen);
}

/** Prints what is wrong with a results directory; exit code 1 if anything is. */
function checkRun(dir: string, suites: string[]): void {
  // the chart shapes a full report must have (size sweeps, percentiles, scaling) come from different suites
  const problems = validateRun(dir, { suites, shapes: Object.keys(SUITES).every((n) => suites.includes(n)) });
  if (problems.length) {
    console.error(`\n${dir}: not well formed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    process.exitCode = 1;
  } else {
    console.log(`check:   well formed (${suites.join(', ')})`);
  }
}

function checkMode(args: string[]): void {
  const { pos } = parse(args, [], []);
  if (pos.length < 1) usage('check takes a results file or directory, then optionally the suites it must hold');
  for (const n of pos.slice(1)) if (!SUITES[n]) usage(`unknown suite ${n}`);
  checkRun(userPath(pos[0]!), pos.slice(1));
}

function compareMode(args: string[]): void {
  const { pos, opt } = parse(args, ['--noise', '--out'], ['--fail-on-regression']);
  if (pos.length !== 2) usage('compare takes two results files or directories');
  const noise = opt.has('--noise') ? Number(opt.get('--noise')) : DEFAULT_NOISE;
  if (!(noise >= 0)) usage('--noise takes a fraction such as 0.05');
  const [pa, pb] = pos.map((p) => resultsPath(userPath(p))) as [string, string];
  const c = compare(readResults(pa), readResults(pb), { noise, labels: [pa, pb] });
  process.stdout.write(comparisonText(c));
  if (opt.has('--out')) {
    const out = userPath(opt.get('--out')!);
    writeFileSync(out, comparisonMarkdown(c));
    console.log(`comparison: ${out}`);
  }
  if (opt.has('--fail-on-regression') && regressions(c).length) process.exitCode = 1;
}

function reportMode(args: string[]): void {
  const { pos, opt } = parse(args, ['--out'], []);
  if (pos.length !== 1) usage('report takes one results file or directory');
  const file = resultsPath(userPath(pos[0]!));
  const doc = readResults(file);
  const out = opt.has('--out') ? userPath(opt.get('--out')!) : dirname(file);
  for (const r of doc.suites) console.log(`\n${suiteText(r)}`);
  console.log(`\nreport: ${writeReport(out, doc)}`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === 'compare') return compareMode(args.slice(1));
  if (args[0] === 'report') return reportMode(args.slice(1));
  if (args[0] === 'check') return checkMode(args.slice(1));
  return run(args);
}

main().catch((e: unknown) => { console.error(e instanceof Error ? e.stack : e); process.exit(1); });
