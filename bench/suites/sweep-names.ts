/**
 * Names of the `sweep` suite's figures and the repetitions collected under
 * them. Names carry place, tool, size (bytes) and QPs so that they compare
 * across runs; every one is declared with its unit and direction.
 */
import type { MetricMeta } from '../suite.js';
import { qpSize, type PlaceName } from './sweep-plan.js';

/** perftest's MsgRate column: millions of messages (work requests) per second. */
export const MSG_RATE: MetricMeta = { unit: 'Mmsg/s', better: 'higher' };

export type LatStat = 'typical' | 'p99' | 'p999';
export type TailStat = 'median' | 'p99' | 'p999';
export type TcpStat = 'median' | 'p99';

export const name = {
  /** Size sweep: perftest's BW average. */
  bw: (p: PlaceName, tool: string, size: number) => `${p}_${tool}_${size}_gbps`,
  rate: (p: PlaceName, tool: string, size: number) => `${p}_${tool}_${size}_mpps`,
  /** Size sweep of a lat tool (few iterations per size). */
  lat: (p: PlaceName, tool: string, size: number, stat: LatStat) => `${p}_${tool}_${size}_${stat}_us`,
  /** Many iterations at the smallest size: the percentile bars (median = perftest's t_typical). */
  tail: (p: PlaceName, tool: string, size: number, stat: TailStat) => `${p}_${tool}_${size}_tail_${stat}_us`,
  /** QP sweep: aggregate over all QPs, as perftest reports it. */
  qpBw: (p: PlaceName, tool: string, q: number) => `${p}_${tool}_${qpSize(tool)}_${q}qp_gbps`,
  qpRate: (p: PlaceName, tool: string, q: number) => `${p}_${tool}_${qpSize(tool)}_${q}qp_mpps`,
  memcpy: (size: number) => `intra_memcpy_${size}_gbps`,
  tcp: (p: PlaceName, size: number, stat: TcpStat) => `${p}_tcp_pingpong_${size}_${stat}_us`,
  iperf: (size: number) => `inter_iperf3_${size}_gbps`,
};

/** Repetitions per figure name, in the order names were first seen. */
export class Samples {
  private readonly m = new Map<string, { values: number[]; meta: MetricMeta }>();

  add(n: string, value: number, meta: MetricMeta): void {
    if (!Number.isFinite(value)) throw new Error(`sweep: ${n} = ${value}`);
    const e = this.m.get(n);
    if (e) e.values.push(value); else this.m.set(n, { values: [value], meta });
  }

  entries(): [string, { values: number[]; meta: MetricMeta }][] {
    return [...this.m];
  }
}
