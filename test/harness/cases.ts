// The real-client cases of the one-host acceptance, shared by the one-host
// suites and the cross-host suite (issue 3: "every real-client line passes
// between containers on different hosts") so the two lists cannot drift.
import { expect } from 'vitest';
import { describePair, expectPairOk, parsePerftest, parsePingpong, parseTap, runPair, type PairOptions, type PairResult } from './apps.js';
import { PATHS } from './paths.js';

const KiB = 1024;
const MiB = 1024 * KiB;

export const PINGPONG_ITERS = 1000;
export interface PingpongCase { bin: string; flags: string[]; size: number; label: string }
const PINGPONGS: { bin: string; flags: string[]; sizes: number[] }[] = [
  { bin: 'ibv_rc_pingpong', flags: [], sizes: [1, 4 * KiB, MiB] },
  { bin: 'ibv_rc_pingpong', flags: ['-e'], sizes: [1, 4 * KiB, MiB] },
  { bin: 'ibv_rc_pingpong', flags: ['-N'], sizes: [1, 4 * KiB, MiB] },
  { bin: 'ibv_uc_pingpong', flags: [], sizes: [1, 4 * KiB, MiB] },
  // UD: a message must fit the port MTU (4096); ibv_ud_pingpong refuses more
  { bin: 'ibv_ud_pingpong', flags: [], sizes: [1, 4 * KiB] },
  { bin: 'ibv_srq_pingpong', flags: [], sizes: [1, 4 * KiB, MiB] },
];
export const PINGPONG_CASES: PingpongCase[] = PINGPONGS.flatMap((c) =>
  c.sizes.map((size) => ({ bin: c.bin, flags: c.flags, size, label: `${c.bin} ${c.flags.join(' ')} -s ${size}`.replace(/\s+/g, ' ') })),
);

export function pingpongArgv(c: PingpongCase): string[] {
  return [c.bin, '-d', 'ffr0', '-g', '0', '-n', String(PINGPONG_ITERS), '-s', String(c.size), '-c', ...c.flags];
}

/** Both sides report the exchange they were asked for. */
export function checkPingpong(p: PairResult, size: number, iters = PINGPONG_ITERS): void {
  for (const side of [p.server, p.client]) {
    const r = parsePingpong(side.stdout);
    expect(r, describePair(p)).toBeDefined();
    expect(r!.iters).toBe(iters);
    expect(r!.bytes).toBe(2 * size * iters);
    expect(r!.mbps).toBeGreaterThan(0);
  }
}

export const PERFTEST_ITERS = ['-n', '100'];
const ALL_SIZES = Array.from({ length: 23 }, (_, i) => 2 ** (i + 1)); // 2 .. 8 MiB
export interface PerftestCase { bin: string; flags: string[]; sizes?: number[]; label: string }
const PERFTESTS: Omit<PerftestCase, 'label'>[] = [
  { bin: 'ib_send_bw', flags: ['-a'] },
  { bin: 'ib_write_bw', flags: ['-a'] },
  { bin: 'ib_read_bw', flags: ['-a'] },
  // atomics are 8 bytes: perftest has no -a for them
  { bin: 'ib_atomic_bw', flags: ['-A', 'FETCH_AND_ADD'], sizes: [8] },
  { bin: 'ib_atomic_bw', flags: ['-A', 'CMP_AND_SWAP'], sizes: [8] },
  { bin: 'ib_send_lat', flags: ['-a'] },
  { bin: 'ib_write_lat', flags: ['-a'] },
  { bin: 'ib_read_lat', flags: ['-a'] },
  { bin: 'ib_atomic_lat', flags: ['-A', 'FETCH_AND_ADD'], sizes: [8] },
  { bin: 'ib_atomic_lat', flags: ['-A', 'CMP_AND_SWAP'], sizes: [8] },
  // variants
  { bin: 'ib_send_bw', flags: ['-a', '-e'] },
  { bin: 'ib_send_bw', flags: ['-a', '-q', '4'] },
  { bin: 'ib_send_bw', flags: ['-a', '--use-srq'] },
  { bin: 'ib_send_bw', flags: ['-a', '-c', 'UC'] },
  // UD messages fit the MTU: -a stops at 4096
  { bin: 'ib_send_bw', flags: ['-a', '-c', 'UD'], sizes: ALL_SIZES.filter((s) => s <= 4096) },
  { bin: 'ib_send_lat', flags: ['-a', '-c', 'UD'], sizes: ALL_SIZES.filter((s) => s <= 4096) },
  { bin: 'ib_write_bw', flags: ['-a', '-q', '4'] },
  { bin: 'ib_write_bw', flags: ['-a', '-c', 'UC'] },
  { bin: 'ib_send_lat', flags: ['-s', '64', '-e'], sizes: [64] },
];
export const PERFTEST_CASES: PerftestCase[] = PERFTESTS.map((c) => ({ ...c, label: `${c.bin} ${c.flags.join(' ')}` }));

export function perftestArgv(c: PerftestCase): string[] {
  return [c.bin, '-d', 'ffr0', '-F', ...PERFTEST_ITERS, ...c.flags];
}

/** The client printed a whole table of well-formed rows for every size. */
export function checkPerftest(p: PairResult, c: PerftestCase): void {
  const { bin, flags } = c;
  const t = parsePerftest(p.client.stdout);
  expect(t, `no result table\n${describePair(p)}`).toBeDefined();
  expect(t!.rows.map((r) => r.bytes), describePair(p)).toEqual(c.sizes ?? ALL_SIZES);
  const lat = /_lat$/.test(bin);
  // perftest counts iterations over all QPs in bandwidth tests.
  const qIdx = flags.indexOf('-q');
  const wantIters = Number(PERFTEST_ITERS[1]) * (lat || qIdx < 0 ? 1 : Number(flags[qIdx + 1]));
  for (const r of t!.rows) {
    expect(r.iterations, `${bin} ${r.bytes} B`).toBe(wantIters);
    expect(r.values.length).toBeGreaterThanOrEqual(lat ? 5 : 3);
    // Only well-formed, non-negative figures: speed is bench/'s business.
    // perftest prints MB/s with two decimals, so "> 0" here would be a
    // hidden speed floor (a 2 B run of 400 sends reads 0.00 once it takes
    // more than 160 ms on a loaded 2-core machine).
    for (const v of r.values) {
      expect(Number.isFinite(v), `${bin} ${r.bytes} B`).toBe(true);
      expect(v, `${bin} ${r.bytes} B`).toBeGreaterThanOrEqual(0);
    }
    if (lat) expect(r.values[2]!, `${bin} ${r.bytes} B typical latency`).toBeGreaterThan(0);
  }
}

/** The checks test/c/verbs_check runs; each prints one TAP line. */
export const VERBS_CHECKS = [
  'write_1', 'write_4096', 'write_1048576', 'write_imm_4096', 'write_imm_1', 'write_1048589', 'write_imm_1048589',
  'read_1', 'read_4096', 'read_1048576', 'read_1048589',
  'send_1', 'send_4096', 'send_1048576', 'send_sges', 'send_inline',
  'cas', 'faa', 'send_cqe_before_reply', 'channel_events_unread',
  'loc_prot_bad_lkey', 'rem_access_bad_rkey', 'rem_access_out_of_bounds',
  'rem_access_mr_no_remote_write', 'rem_access_qp_no_remote_write',
  'post_send_reset', 'post_send_init', 'post_wrong_state_no_cqe',
  'rnr_retry_exc',
];

/**
 * Runs verbs_check between two containers and expects every check of
 * VERBS_CHECKS to pass: the semantics test used beside caps, weights and
 * other tenants' load.
 */
export async function expectVerbsCheck(o: Omit<PairOptions, 'serverArgv' | 'clientArgv' | 'clientArgvFn'>, logs: () => string): Promise<void> {
  const vc = await runPair({
    timeoutMs: 120_000,
    ...o,
    serverArgv: [PATHS.verbsCheck, '--server', '-d', 'ffr0'],
    clientArgvFn: (ip) => [PATHS.verbsCheck, '--client', ip, '-d', 'ffr0'],
  });
  const tap = parseTap(vc.client.stdout);
  expect(tap.notOk, describePair(vc, logs())).toEqual([]);
  for (const name of VERBS_CHECKS) expect(tap.ok, `no "ok ${name}"\n${describePair(vc)}`).toContain(name);
  expectPairOk(vc, logs);
}
