#!/usr/bin/env node
/**
 * Benchmark runner: `npm run bench -- [suite...] [--quick]`. Writes
 * bench/results/<timestamp>/results.json and prints a table of ratios.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../test/harness/paths.js';
import { inter } from './suites/inter.js';
import { intra } from './suites/intra.js';
import type { SuiteContext, SuiteResult } from './suite.js';

const SUITES: Record<string, (ctx: SuiteContext) => Promise<SuiteResult>> = { intra, inter };

function usage(): never {
  console.error(`usage: npm run bench -- [--quick] [${Object.keys(SUITES).join('|')}]...`);
  process.exit(2);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const names = args.filter((a) => !a.startsWith('--'));
  for (const a of args) if (a.startsWith('--') && a !== '--quick') usage();
  for (const n of names) if (!SUITES[n]) usage();
  const chosen = names.length ? names : Object.keys(SUITES);
  const tty = process.stderr.isTTY;
  const ctx: SuiteContext = {
    quick,
    progress: (msg) => { if (tty) process.stderr.write(`\r\x1b[K${msg}`); else console.error(msg); },
  };
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memBytes: totalmem(), kernel: release(), loadavgBefore: loadavg() };
  const results: SuiteResult[] = [];
  for (const n of chosen) results.push(await SUITES[n]!(ctx));
  if (tty) process.stderr.write('\r\x1b[K');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = join(ROOT, 'bench', 'results', stamp);
  mkdirSync(dir, { recursive: true });
  const doc = { schema: 'freeflow-ts-bench/1', when: new Date().toISOString(), quick, machine: { ...machine, loadavgAfter: loadavg() }, suites: results };
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify(doc, null, 2)}\n`);
  for (const r of results) {
    console.log(`\n== ${r.name}`);
    for (const [k, s] of Object.entries(r.measurements)) console.log(`${k.padEnd(36)} median ${s.median.toFixed(3).padStart(10)}  min ${s.min.toFixed(3)}  max ${s.max.toFixed(3)}  (n=${s.n})`);
    for (const [k, v] of Object.entries(r.ratios)) console.log(`${k.padEnd(36)} ratio  ${v.toFixed(3).padStart(10)}`);
    for (const g of r.goals) console.log(`${g.met ? 'MET    ' : 'NOT MET'} ${g.what} (${g.value.toFixed(3)})`);
  }
  console.log(`\nresults: ${join(dir, 'results.json')}`);
}

main().catch((e: unknown) => { console.error(e instanceof Error ? e.stack : e); process.exit(1); });
