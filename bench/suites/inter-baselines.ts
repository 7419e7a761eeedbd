/**
 * Plain TCP between two containers, whatever joins them: in `inter` the very
 * path the routers' peer transport uses (the container veth, the host
 * bridge, the host's forwarding, the wan veths and bridge; see
 * test/harness/cluster-net.ts) or a VXLAN overlay (bench/overlay.ts), in
 * `intra` the host's bridge. Every process runs inside a namespace through
 * the harness, so it is bounded in time and killed at the end.
 */
import { join } from 'node:path';
import { startApp, waitListening } from '../../test/harness/apps.js';
import type { Container } from '../../test/harness/netns.js';
import { ROOT } from '../../test/harness/paths.js';
import { describeOutput, type Proc, type RunResult } from '../../test/harness/proc.js';
import { parseLatency, type LatencyResult, type PingpongMode } from '../baselines.js';

const TCP_PINGPONG = join(ROOT, 'bench', 'c', 'build', 'tcp_pingpong');

export interface TcpBwResult {
  /** Received bytes per second over the run, in Gbit/s (the receiver's view, as intra's loopback baseline). */
  gbps: number;
  /** TCP retransmissions the sender counted: non-zero means the path dropped packets. */
  retransmits: number;
  seconds: number;
}

/** Starts a server (no shim) and waits until it listens on port, or throws with its output. */
async function startServer(c: Container, argv: string[], port: number, timeoutMs: number): Promise<Proc> {
  const p = startApp(c, argv, { preload: false, lineBuffered: false, timeoutMs, label: `server ${c.name}: ${argv[0]}` });
  try {
    await waitListening(c, port, 10_000, p);
  } catch (e) {
    p.killGroup('SIGKILL');
    await p.done;
    throw e;
  }
  return p;
}

/** Kills the server if it is still running and waits for it (it may have forked). */
async function stopServer(p: Proc): Promise<RunResult> {
  if (!(await p.waitExit(2000))) p.killGroup('SIGKILL');
  return p.done;
}

/** iperf3 single-stream TCP from client to server (server in `server`'s namespace, bound to its address);
 * `writeLen` sets iperf3's write size (`-l`, default 128 KiB). */
export async function interTcpGbps(server: Container, client: Container, seconds: number, port: number, writeLen?: number): Promise<TcpBwResult> {
  const bound = (seconds + 20) * 1000;
  const srv = await startServer(server, ['iperf3', '-s', '-1', '-p', String(port), '-B', server.ip], port, bound);
  try {
    const len = writeLen === undefined ? [] : ['-l', String(writeLen)];
    const r = await startApp(client, ['iperf3', '-c', server.ip, '-p', String(port), '-t', String(seconds), ...len, '-J'],
      { preload: false, lineBuffered: false, timeoutMs: bound, label: `client ${client.name}: iperf3` }).done;
    if (r.code !== 0 || r.timedOut) throw new Error(`iperf3 client failed:\n${describeOutput(r)}\n\nSERVER\n${describeOutput(await stopServer(srv))}`);
    const j = JSON.parse(r.stdout) as {
      end: { sum_received: { bits_per_second: number; seconds: number }; sum_sent: { retransmits?: number } };
    };
    return {
      gbps: j.end.sum_received.bits_per_second / 1e9,
      retransmits: j.end.sum_sent.retransmits ?? 0,
      seconds: j.end.sum_received.seconds,
    };
  } finally {
    await stopServer(srv);
  }
}

/** TCP ping-pong of `size` bytes (bench/c/tcp_pingpong, TCP_NODELAY, iters/10 warm-up
 * round trips first): one-way latency, half the round trip, as perftest reports. */
export async function interTcpLatency(server: Container, client: Container, size: number, iters: number, port: number, mode: PingpongMode = 'block'): Promise<LatencyResult> {
  const bound = 120_000;
  const srv = await startServer(server, [TCP_PINGPONG, 'server', String(port)], port, bound);
  try {
    const r = await startApp(client, [TCP_PINGPONG, 'client', server.ip, String(port), String(iters), String(size), mode],
      { preload: false, lineBuffered: false, timeoutMs: bound, label: `client ${client.name}: tcp_pingpong` }).done;
    if (r.code !== 0 || r.timedOut) throw new Error(`tcp_pingpong client failed:\n${describeOutput(r)}\n\nSERVER\n${describeOutput(await stopServer(srv))}`);
    return parseLatency(r.stdout);
  } finally {
    await stopServer(srv);
  }
}
