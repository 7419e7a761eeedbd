/**
 * What the `sweep` suite runs: the eight perftest tools, the sizes and QP
 * counts, iteration bounds per place and mode, and the perftest command
 * lines. Budgets (measured on the 2-core machine) drove the numbers: perftest
 * spends ~0.22 s per size on a busy-wait CPU-clock calibration (0.45 s for the
 * *_lat tools), so a `-a` run costs ~5 s (bw) or ~10 s (lat) before any
 * transfer; the iteration counts keep the transfers within that again.
 */

export type PlaceName = 'intra' | 'inter';
export const PLACES: readonly PlaceName[] = ['intra', 'inter'];

export const BW_TOOLS = ['ib_send_bw', 'ib_write_bw', 'ib_read_bw'] as const;
export const LAT_TOOLS = ['ib_send_lat', 'ib_write_lat', 'ib_read_lat'] as const;
export const ATOMIC_BW = 'ib_atomic_bw';
export const ATOMIC_LAT = 'ib_atomic_lat';
/** Every bw tool, in chart order. */
export const ALL_BW = [...BW_TOOLS, ATOMIC_BW] as const;
/** Every lat tool, in chart order. */
export const ALL_LAT = [...LAT_TOOLS, ATOMIC_LAT] as const;

/** Fetch-and-add: perftest's default atomic, the counter most applications use. */
export const ATOMIC_OP = 'FETCH_AND_ADD';
/** Atomics always move 8 bytes. */
export const ATOMIC_SIZE = 8;
/** Size of the latency percentile bars (the atomic tools use ATOMIC_SIZE). */
export const TAIL_SIZE = 2;
/** Size of the QP sweep for the send/write/read tools. */
export const QP_SIZE = 65536;
/** What perftest -a covers: every power of two from 2 B to 8 MiB. */
export const ALL_SIZES: readonly number[] = Array.from({ length: 23 }, (_, i) => 2 ** (i + 1));
/** Sizes with a bw/memcpy/iperf3 ratio (when measured). */
export const RATIO_BW_SIZES: readonly number[] = [65536, 1048576];
/** Largest size bench/c/tcp_pingpong accepts (its buffer). */
export const TCP_MAX_SIZE = 65536;

export interface Plan {
  /** Repetitions of the size sweep, the latency tails and the atomic points. */
  sizeReps: number;
  /** Repetitions of the QP sweep (its q=1 run is also the atomic bw point). */
  qpReps: number;
  /** Repetitions of each baseline point. */
  baselineReps: number;
  /** Sizes for the bw tools: `undefined` runs `-a`, a list runs `-s` per size. */
  bwSizes?: number[];
  /** Sizes for the lat tools, as bwSizes. */
  latSizes?: number[];
  /** `-n` of the send/write/read bw size sweep. */
  bwIters: Record<PlaceName, number>;
  /** `-n` of the send/write/read lat size sweep. */
  latIters: Record<PlaceName, number>;
  /** `-n` of the runs behind the percentile bars: enough samples for a p99.9. */
  tailIters: number;
  qps: number[];
  /** Messages per QP-sweep run over all QPs (each QP gets its share): count-bounded. */
  qpMsgs: Record<PlaceName, number>;
  memcpySeconds: number;
  tcpSizes: number[];
  tcpIters: number;
  /** iperf3 write sizes (`-l`) of the inter baseline. */
  iperfSizes: number[];
  iperfSeconds: number;
}

/**
 * Full (budget 8 min; measured 7.5): 3 repetitions of the size sweep (all
 * sizes via -a), the latency tails, the atomic points and every baseline;
 * 2 of the QP sweep, the part cut to hold the budget. Quick (budget 30 s;
 * measured 20): one repetition at one size per tool; the bw size point, the
 * q=1 point and the atomic bw point share one command line, as do the lat
 * size point and the tail run, so the run cache does each once.
 */
export function plan(quick: boolean): Plan {
  if (quick) {
    const qpMsgs = { intra: 5000, inter: 2000 };
    return {
      sizeReps: 1, qpReps: 1, baselineReps: 1,
      bwSizes: [QP_SIZE], latSizes: [TAIL_SIZE],
      bwIters: qpMsgs, latIters: { intra: 2000, inter: 2000 }, tailIters: 2000,
      qps: [1, 64], qpMsgs,
      memcpySeconds: 0.05, tcpSizes: [TAIL_SIZE, ATOMIC_SIZE], tcpIters: 500,
      iperfSizes: [QP_SIZE], iperfSeconds: 1,
    };
  }
  return {
    sizeReps: 3, qpReps: 2, baselineReps: 3,
    bwIters: { intra: 1000, inter: 250 }, latIters: { intra: 200, inter: 100 }, tailIters: 10000,
    qps: [1, 4, 16, 64], qpMsgs: { intra: 50000, inter: 8000 },
    memcpySeconds: 0.05,
    tcpSizes: ALL_SIZES.filter((x) => x <= TCP_MAX_SIZE), tcpIters: 2000,
    // iperf3 takes at most 1 MiB per write
    iperfSizes: [1024, 65536, 1048576], iperfSeconds: 1,
  };
}

function base(tool: string): string[] {
  const argv = [tool, '-d', 'ffr0'];
  if (tool.startsWith('ib_atomic')) argv.push('-A', ATOMIC_OP);
  // --report_gbits: the bw column is then Gb/s. -N: no peak bandwidth; only the average
  // is used, and perftest computes the peak in O(iterations²), seconds at 50000
  if (tool.endsWith('_bw')) argv.push('--report_gbits', '-N');
  return argv;
}

/** Size-sweep command lines of a send/write/read tool: one `-a` run, or one `-s` run per size. */
export function sweepArgvs(tool: string, sizes: number[] | undefined, iters: number): string[][] {
  if (!sizes) return [[...base(tool), '-a', '-n', String(iters)]];
  return sizes.map((s) => [...base(tool), '-s', String(s), '-n', String(iters)]);
}

/** A latency run at one size (atomics: their fixed 8 B). */
export function latArgv(tool: string, size: number, iters: number): string[] {
  return tool === ATOMIC_LAT ? [...base(tool), '-n', String(iters)] : [...base(tool), '-s', String(size), '-n', String(iters)];
}

/** Size of a tool's QP sweep. */
export function qpSize(tool: string): number {
  return tool === ATOMIC_BW ? ATOMIC_SIZE : QP_SIZE;
}

/**
 * A QP-sweep run: `q` QPs sharing `msgs` messages (perftest's -n is per QP).
 * With q = 1 and msgs = the bw size-sweep -n, it is the same command line as
 * that sweep's QP_SIZE point.
 */
export function qpArgv(tool: string, q: number, msgs: number): string[] {
  const size = tool === ATOMIC_BW ? [] : ['-s', String(qpSize(tool))];
  const argv = [...base(tool), ...size, '-n', String(Math.ceil(msgs / q))];
  return q === 1 ? argv : [...argv, '-q', String(q)];
}

/** Short run discarded before measuring: neighbours resolved, router and shim warm. */
export function warmupArgv(): string[] {
  return [...base('ib_send_bw'), '-s', String(QP_SIZE), '-n', '200'];
}
