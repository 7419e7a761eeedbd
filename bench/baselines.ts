/**
 * Baselines a user would otherwise pick, measured in the same run on the same
 * machine: single-thread memcpy and a shared-memory ping-pong (the limits of
 * a one-copy design), TCP over loopback (host mode) for latency, iperf3
 * single-stream TCP for bandwidth. Baselines between containers are in
 * bench/suites/inter-baselines.ts.
 */
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../test/harness/paths.js';

const exec = promisify(execFile);
const C_BUILD = join(ROOT, 'bench', 'c', 'build');

export async function buildBaselines(): Promise<void> {
  await exec('make', ['-s', '-C', join(ROOT, 'bench', 'c')]);
}

/** memcpy bandwidth in Gbit/s for one size. */
export async function memcpyGbps(size: number, seconds: number): Promise<number> {
  const { stdout } = await exec(join(C_BUILD, 'memcpy_bw'), [String(size), String(seconds)]);
  return (JSON.parse(stdout) as { gbps: number }).gbps;
}

/** One-way latency (half the round trip, as perftest's *_lat tools report). */
export interface LatencyResult { medianUs: number; p99Us: number }

/** What bench/c/tcp_pingpong and shm_pingpong print: one JSON object. */
export function parseLatency(stdout: string): LatencyResult {
  const r = JSON.parse(stdout) as { median_us: number; p99_us: number };
  return { medianUs: r.median_us, p99Us: r.p99_us };
}

/** Shared-memory ping-pong of `size` bytes between two busy-polling processes
 * (bench/c/shm_pingpong, iters/10 warm-up round trips first). */
export async function shmLatency(size: number, iters: number): Promise<LatencyResult> {
  const { stdout } = await exec(join(C_BUILD, 'shm_pingpong'), [String(iters), String(size)], { timeout: 60_000 });
  return parseLatency(stdout);
}

/**
 * How the TCP ping-pong receives (bench/c/tcp_pingpong.c): 'block' sleeps in
 * read() as most TCP programs do (on a VM it pays for waking an idle vCPU,
 * so it moves with the machine's load); 'busy' polls with MSG_DONTWAIT, like
 * perftest's *_lat tools poll their CQ: the like-for-like baseline.
 */
export type PingpongMode = 'block' | 'busy';

/** TCP ping-pong of `size` bytes over loopback: one-way latency (half round trip, as perftest reports). */
export async function tcpLoopbackLatency(size: number, iters: number, port: number, mode: PingpongMode = 'block'): Promise<LatencyResult> {
  const server = spawn(join(C_BUILD, 'tcp_pingpong'), ['server', String(port)], { stdio: 'ignore' });
  try {
    const { stdout } = await exec(join(C_BUILD, 'tcp_pingpong'),
      ['client', '127.0.0.1', String(port), String(iters), String(size), mode], { timeout: 120_000 });
    return parseLatency(stdout);
  } finally {
    server.kill('SIGKILL');
  }
}

/** iperf3 single-stream TCP bandwidth over loopback in Gbit/s (bounded run). */
export async function tcpLoopbackGbps(seconds: number, port: number): Promise<number> {
  const server = spawn('iperf3', ['-s', '-1', '-p', String(port), '-B', '127.0.0.1'], { stdio: 'ignore' });
  try {
    for (let i = 0; ; i++) {
      try {
        const { stdout } = await exec('iperf3', ['-c', '127.0.0.1', '-p', String(port), '-t', String(seconds), '-J'],
          { timeout: (seconds + 20) * 1000 });
        const j = JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } };
        return j.end.sum_received.bits_per_second / 1e9;
      } catch (e) {
        if (i >= 20) throw e;
        await new Promise((r) => setTimeout(r, 100)); // server not listening yet
      }
    }
  } finally {
    server.kill('SIGKILL');
  }
}
