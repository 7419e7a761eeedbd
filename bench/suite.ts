import type { Summary } from './stats.js';

/** What every suite gets from the runner. */
export interface SuiteContext {
  /** Smoke version: one repetition, short runs. */
  quick: boolean;
  /** One live progress line. */
  progress(msg: string): void;
}

export interface Goal { what: string; value: number; met: boolean }

export interface SuiteResult {
  name: string;
  /** Raw measurements, each a median with min/max over repetitions. */
  measurements: Record<string, Summary>;
  /** Measured/baseline ratios of medians, pair by pair. */
  ratios: Record<string, number>;
  goals: Goal[];
}
