/**
 * Runs the `sweep` plan at one place (a server and a client container, on
 * one host or two) and collects perftest's own figures: a warm-up, then per
 * repetition the size sweep, the latency tails, the atomic points, the QP
 * sweep and the baselines, so that drift over the run touches every figure
 * alike. Command lines repeated within a repetition run once (see plan()).
 */
import { perftest, type Placement } from '../pair.js';
import { parseBw, parseLat, type BwRow, type LatRow } from '../perftest-parse.js';
import { GBPS, US } from './figures.js';
import { baselineRep } from './sweep-baselines.js';
import { MSG_RATE, name, type Samples } from './sweep-names.js';
import {
  ALL_BW, ALL_SIZES, ATOMIC_BW, ATOMIC_LAT, ATOMIC_SIZE, BW_TOOLS, LAT_TOOLS, TAIL_SIZE,
  latArgv, qpArgv, qpSize, sweepArgvs, warmupArgv, type PlaceName, type Plan,
} from './sweep-plan.js';

type Run = (argv: string[]) => Promise<string>;

/** The row for `size`, or an error carrying the whole output. */
function row<T extends { bytes: number }>(rows: T[], size: number, argv: string[], out: string): T {
  const r = rows.find((x) => x.bytes === size);
  if (!r) throw new Error(`${argv.join(' ')} printed no ${size} B row:\n${out}`);
  return r;
}

/** Sizes a size-sweep command line covers. */
function sizesOf(argv: string[]): readonly number[] {
  const s = argv.indexOf('-s');
  return s >= 0 ? [Number(argv[s + 1])] : ALL_SIZES;
}

function addBw(s: Samples, place: PlaceName, tool: string, r: BwRow): void {
  s.add(name.bw(place, tool, r.bytes), r.bwAvgMBps, GBPS); // --report_gbits: the column is Gb/s
  s.add(name.rate(place, tool, r.bytes), r.msgRateMpps, MSG_RATE);
}

function addLat(s: Samples, place: PlaceName, tool: string, r: LatRow): void {
  s.add(name.lat(place, tool, r.bytes, 'typical'), r.typicalUs, US);
  s.add(name.lat(place, tool, r.bytes, 'p99'), r.p99Us, US);
  s.add(name.lat(place, tool, r.bytes, 'p999'), r.p999Us, US);
}

async function sizeSweep(place: PlaceName, p: Plan, s: Samples, run: Run): Promise<void> {
  for (const tool of BW_TOOLS) {
    for (const argv of sweepArgvs(tool, p.bwSizes, p.bwIters[place])) {
      const out = await run(argv), rows = parseBw(out);
      for (const size of sizesOf(argv)) addBw(s, place, tool, row(rows, size, argv, out));
    }
  }
  for (const tool of LAT_TOOLS) {
    for (const argv of sweepArgvs(tool, p.latSizes, p.latIters[place])) {
      const out = await run(argv), rows = parseLat(out);
      for (const size of sizesOf(argv)) addLat(s, place, tool, row(rows, size, argv, out));
    }
  }
  // atomics have one size: their bw point is the QP sweep's q=1 run, their lat point the tail run
  const a = qpArgv(ATOMIC_BW, 1, p.qpMsgs[place]), aout = await run(a);
  addBw(s, place, ATOMIC_BW, row(parseBw(aout), ATOMIC_SIZE, a, aout));
}

/** Many iterations at the smallest size: the latency percentile bars. */
async function tails(place: PlaceName, p: Plan, s: Samples, run: Run): Promise<void> {
  for (const tool of [...LAT_TOOLS, ATOMIC_LAT]) {
    const size = tool === ATOMIC_LAT ? ATOMIC_SIZE : TAIL_SIZE;
    const argv = latArgv(tool, size, p.tailIters), out = await run(argv);
    const r = row(parseLat(out), size, argv, out);
    s.add(name.tail(place, tool, size, 'median'), r.typicalUs, US);
    s.add(name.tail(place, tool, size, 'p99'), r.p99Us, US);
    s.add(name.tail(place, tool, size, 'p999'), r.p999Us, US);
    if (tool === ATOMIC_LAT) addLat(s, place, tool, r);
  }
}

async function qpSweep(place: PlaceName, p: Plan, s: Samples, run: Run): Promise<void> {
  for (const tool of ALL_BW) {
    for (const q of p.qps) {
      const argv = qpArgv(tool, q, p.qpMsgs[place]), out = await run(argv);
      const r = row(parseBw(out), qpSize(tool), argv, out);
      s.add(name.qpBw(place, tool, q), r.bwAvgMBps, GBPS);
      s.add(name.qpRate(place, tool, q), r.msgRateMpps, MSG_RATE);
    }
  }
}

/**
 * Measures everything of the plan at `place` into `s`. Any perftest failure
 * throws with both sides' output and the router logs (bench/pair.ts).
 */
export async function measurePlace(place: PlaceName, pair: Placement, p: Plan, s: Samples, progress: (msg: string) => void): Promise<void> {
  progress(`sweep ${place}: warm-up`);
  await perftest(pair, warmupArgv());
  const reps = Math.max(p.sizeReps, p.qpReps, p.baselineReps);
  for (let rep = 0; rep < reps; rep++) {
    const say = (msg: string) => progress(`sweep ${place} ${rep + 1}/${reps}: ${msg}`);
    const done = new Map<string, Promise<string>>();
    const run: Run = (argv) => {
      const key = argv.join(' ');
      let out = done.get(key);
      if (!out) {
        say(argv.filter((a) => a !== '-d' && a !== 'ffr0').join(' '));
        out = perftest(pair, argv);
        done.set(key, out);
      }
      return out;
    };
    if (rep < p.sizeReps) {
      await sizeSweep(place, p, s, run);
      await tails(place, p, s, run);
    }
    if (rep < p.qpReps) await qpSweep(place, p, s, run);
    if (rep < p.baselineReps) await baselineRep(place, pair, p, s, say);
  }
}
