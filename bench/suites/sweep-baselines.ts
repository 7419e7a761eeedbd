/**
 * The `sweep` suite's baselines, measured between the very containers the
 * perftest runs use, in the same run: one-thread memcpy at every bw size
 * (intra), TCP ping-pong per size (both places, through the bridge or the
 * inter-host path), iperf3 with the write size set to the message size (inter).
 */
import { memcpyGbps } from '../baselines.js';
import type { Placement } from '../pair.js';
import { GBPS, US } from './figures.js';
import { interTcpGbps, interTcpLatency } from './inter-baselines.js';
import { name, type Samples } from './sweep-names.js';
import { ALL_SIZES, type PlaceName, type Plan } from './sweep-plan.js';

let runs = 0;
/** A fresh TCP port per baseline server, so no run meets the previous one's TIME_WAIT. */
function nextPort(): number {
  return 26000 + (runs++ % 1000);
}

/** One repetition of every baseline of a place. */
export async function baselineRep(place: PlaceName, pair: Placement, p: Plan, s: Samples, progress: (msg: string) => void): Promise<void> {
  if (place === 'intra') {
    progress('memcpy per size');
    for (const size of p.bwSizes ?? ALL_SIZES) s.add(name.memcpy(size), await memcpyGbps(size, p.memcpySeconds), GBPS);
  }
  for (const size of p.tcpSizes) {
    progress(`tcp ping-pong ${size} B`);
    const r = await interTcpLatency(pair.server, pair.client, size, p.tcpIters, nextPort());
    s.add(name.tcp(place, size, 'median'), r.medianUs, US);
    s.add(name.tcp(place, size, 'p99'), r.p99Us, US);
  }
  if (place === 'inter') {
    for (const size of p.iperfSizes) {
      progress(`iperf3 -l ${size}`);
      s.add(name.iperf(size), (await interTcpGbps(pair.server, pair.client, p.iperfSeconds, nextPort(), size)).gbps, GBPS);
    }
  }
}
