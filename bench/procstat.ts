/**
 * Resource use of a running process from /proc: CPU ticks and resident
 * memory. Used for router CPU and memory figures; never for timing what
 * perftest already timed.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat on Linux. */
const USER_HZ = 100;

/** user + system CPU time of a process so far, in seconds. */
export function cpuSeconds(pid: number): number {
  // comm (field 2) may hold spaces and parentheses: split after its last ')'
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / USER_HZ; // utime, stime (fields 14, 15)
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Measures CPU use over whatever `during` does: % of one core. */
export async function cpuPercentDuring<T>(pid: number, during: () => Promise<T>): Promise<{ percent: number; seconds: number; value: T }> {
  const c0 = cpuSeconds(pid), t0 = performance.now();
  const value = await during();
  const seconds = (performance.now() - t0) / 1000;
  return { percent: ((cpuSeconds(pid) - c0) / seconds) * 100, seconds, value };
}

/** CPU use of an otherwise idle process over a window, % of one core. Resolution is 1 tick / window. */
export async function idleCpuPercent(pid: number, ms: number): Promise<number> {
  return (await cpuPercentDuring(pid, () => new Promise((r) => setTimeout(r, ms)))).percent;
}

/** Samples RSS every `everyMs` until stopped; peak() is the largest sample. */
export class RssSampler {
  private max = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly pid: number, everyMs = 100) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }
  private sample(): void {
    try { this.max = Math.max(this.max, rssBytes(this.pid)); } catch { /* exited: keep the peak so far */ }
  }
  /** Stops sampling and returns the peak RSS in bytes. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.max;
  }
}
