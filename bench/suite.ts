import type { Summary } from './stats.js';

/** What every suite gets from the runner. */
export interface SuiteContext {
  /** Smoke version: one repetition, short runs. */
  quick: boolean;
  /** One live progress line. */
  progress(msg: string): void;
}

export interface Goal { what: string; value: number; met: boolean }

/** Which way a figure should move; 'none' for figures that are only context (a count of hosts, a size). */
export type Better = 'higher' | 'lower' | 'none';

/**
 * Declared facts about one measurement or ratio. Reports and `compare` guess
 * these from the name (`_gbps`, `_us`, `lat`, `cpu_percent`...) when a suite
 * does not declare them; declaring them makes the verdicts not depend on naming.
 */
export interface MetricMeta {
  /** Printed unit: 'Gb/s', 'µs', '%', 'B', 'x' for ratios, 'count'... */
  unit?: string;
  better?: Better;
  /** Smallest absolute change (in `unit`) that means anything, e.g. the resolution of a CPU tick counter. */
  noise?: number;
}

/** How an axis maps values to positions and prints its ticks. */
export interface Axis {
  /** What is on the axis, without the unit: 'message size', 'aggregate bandwidth', 'QPs'. */
  label: string;
  /** Printed after the label in parentheses; omit for counts. */
  unit?: string;
  /** 'log2' suits sizes and QP/container counts that double; 'log10' suits values spanning decades. Default 'linear'. */
  scale?: 'linear' | 'log2' | 'log10';
  /** 'bytes' prints ticks as 2 B, 64 KiB, 8 MiB (the unit is then implied). Default 'number'. */
  format?: 'number' | 'bytes';
}

/** One x position: the median over repetitions, with min/max drawn as an error bar. */
export interface SeriesPoint {
  /** A number on a numeric x axis; a category name (a tool, a percentile) for bar charts. */
  x: number | string;
  median: number;
  min?: number;
  max?: number;
  /** Repetitions behind the median. */
  n?: number;
}

/** One legend entry: a line in a line chart, one bar per category in a grouped bar chart. */
export interface SeriesLine {
  /** Tool, configuration or percentile: 'ib_write_bw', '16 QPs', 'p99.9'. */
  name: string;
  points: SeriesPoint[];
}

/**
 * One chart. Bandwidth against size: kind 'line', x {scale: 'log2', format: 'bytes'},
 * one line per tool. Latency percentiles: kind 'bar', x = tool or size,
 * one line per percentile (median, p99, p99.9). Scaling: kind 'line',
 * x = containers or QPs (log2), y = Gb/s, µs or CPU %.
 */
export interface Series {
  /** Unique within the suite; file-name safe; names the chart file (`<suite>-<id>.svg`). */
  id: string;
  title: string;
  kind: 'line' | 'bar';
  x: Axis;
  /** Bar charts: bars start at 0 on a linear axis and at 1 on a log axis (so ratios grow either way from parity). */
  y: Axis;
  /** Direction of y, for `compare` on the points; guessed from y's unit and label when absent. */
  better?: Better;
  lines: SeriesLine[];
  /** Horizontal reference lines: a goal threshold, a baseline. */
  marks?: { y: number; label: string }[];
}

export interface SuiteResult {
  name: string;
  /** Raw measurements, each a median with min/max over repetitions. */
  measurements: Record<string, Summary>;
  /** Measured/baseline ratios of medians, pair by pair. */
  ratios: Record<string, number>;
  goals: Goal[];
  /** Charts for the report. Suites without any get bar charts of their measurements and ratios. */
  series?: Series[];
  /** Unit and direction per measurement or ratio name; overrides what is guessed from the name. */
  meta?: Record<string, MetricMeta>;
  /** Wall time the suite took, set by the runner (bench/main.ts). */
  seconds?: number;
}
