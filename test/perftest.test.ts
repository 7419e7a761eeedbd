// Acceptance 3: perftest across two containers. Every run completes on both
// sides and the client prints a result table whose rows parse.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePair, expectPairOk, parsePerftest, runPair } from './harness/apps.js';
import { World } from './harness/world.js';

const ITERS = ['-n', '100'];
const ALL_SIZES = Array.from({ length: 23 }, (_, i) => 2 ** (i + 1)); // 2 .. 8 MiB

interface Case { bin: string; flags: string[]; sizes?: number[] }
const CASES: Case[] = [
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

const rows = CASES.map((c) => ({ ...c, label: `${c.bin} ${c.flags.join(' ')}` }));

describe('perftest across two containers', () => {
  let w: World;
  beforeAll(async () => {
    w = await World.create([{ name: 'srv', tenant: 1 }, { name: 'cli', tenant: 1 }]);
  });
  afterAll(async () => { await w?.teardown(); });

  it.each(rows)('$label', async ({ bin, flags, sizes }) => {
    const argv = [bin, '-d', 'ffr0', '-F', ...ITERS, ...flags];
    const p = await runPair({ server: w.c('srv'), client: w.c('cli'), serverArgv: argv, socket: w.socket, timeoutMs: 150_000 });
    expectPairOk(p, w.logs);
    const t = parsePerftest(p.client.stdout);
    expect(t, `no result table\n${describePair(p)}`).toBeDefined();
    const want = sizes ?? ALL_SIZES;
    expect(t!.rows.map((r) => r.bytes), describePair(p)).toEqual(want);
    const lat = /_lat$/.test(bin);
    for (const r of t!.rows) {
      expect(r.iterations).toBeGreaterThan(0);
      expect(r.values.length).toBeGreaterThanOrEqual(lat ? 5 : 3);
      for (const v of r.values) expect(Number.isFinite(v)).toBe(true);
      // bandwidth tests: average BW > 0; latency tests: typical/avg latency > 0
      expect(lat ? r.values[2]! : r.values[1]!, `${bin} ${r.bytes} B`).toBeGreaterThan(0);
    }
  });

  // 1000 sends against a 512-deep receive queue drive the sender into RNR
  // waits; after a few runs the data plane has been preempted and sleeps when
  // idle, so each wait must be ended by a timer or a doorbell. A sender whose
  // RNR timer was not armed once hung 24 of 33 such runs.
  it('back-to-back ib_send_bw -n 1000 pairs all complete (RNR waits with a sleeping data plane)', async () => {
    for (let i = 0; i < 12; i++) {
      const p = await runPair({ server: w.c('srv'), client: w.c('cli'), serverArgv: ['ib_send_bw', '-d', 'ffr0', '-F', '-n', '1000'],
        socket: w.socket, timeoutMs: 30_000, graceMs: 5_000 });
      expectPairOk(p, () => `run ${i + 1} of 12\n${w.logs()}`);
    }
  });
});
