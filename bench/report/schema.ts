/**
 * The shape of results.json (documented in bench/RESULTS-SCHEMA.md) and how
 * it is read back. Only optional fields were ever added to /1, so every
 * results.json written since the first bench run still reads.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SuiteResult } from '../suite.js';

export const SCHEMA = 'freeflow-ts-bench/1';

export interface Machine {
  cpus: number;
  cpuModel?: string;
  memBytes: number;
  kernel: string;
  /** os.loadavg(): 1, 5 and 15 minute averages, before the first suite and after the last. */
  loadavgBefore: number[];
  loadavgAfter: number[];
  node?: string;
  arch?: string;
}

export interface ResultsDocument {
  schema: string;
  /** ISO 8601 time the results were written. */
  when: string;
  quick: boolean;
  machine: Machine;
  /** `git rev-parse HEAD` of the tree that was measured, '+dirty' appended if it had changes. */
  commit?: string;
  suites: SuiteResult[];
  /** Suites that threw instead of returning results; the others still ran. */
  failed?: { name: string; error: string }[];
}

/**
 * A 1-minute load above half the cores before the first suite means other
 * work shared the machine: the figures are noisier than usual. The load
 * after the run is not a sign of that: busy-polling perftest processes are
 * the run's own load.
 */
export function busyWarning(m: Machine): string | undefined {
  const before = m.loadavgBefore?.[0] ?? 0;
  return before > m.cpus / 2
    ? `1-minute load was ${before.toFixed(2)} on ${m.cpus} CPUs when the run started: other work shared the machine, expect more noise.`
    : undefined;
}

/** A results.json path, or a results directory holding one. */
export function resultsPath(p: string): string {
  return statSync(p).isDirectory() ? join(p, 'results.json') : p;
}

/** Reads and checks a results document; the errors name the file, so a wrong argument is obvious. */
export function readResults(p: string): ResultsDocument {
  const file = resultsPath(p);
  const doc = JSON.parse(readFileSync(file, 'utf8')) as Partial<ResultsDocument>;
  if (typeof doc.schema !== 'string' || !doc.schema.startsWith('freeflow-ts-bench/')) {
    throw new Error(`${file}: not a freeflow-ts bench results file (schema ${JSON.stringify(doc.schema)})`);
  }
  if (doc.schema !== SCHEMA) throw new Error(`${file}: schema ${doc.schema}, this reader knows ${SCHEMA}`);
  if (!Array.isArray(doc.suites) || typeof doc.machine !== 'object') throw new Error(`${file}: missing suites or machine`);
  for (const s of doc.suites) {
    if (typeof s?.name !== 'string' || typeof s.measurements !== 'object' || typeof s.ratios !== 'object' || !Array.isArray(s.goals)) {
      throw new Error(`${file}: a suite lacks name, measurements, ratios or goals`);
    }
  }
  return doc as ResultsDocument;
}
