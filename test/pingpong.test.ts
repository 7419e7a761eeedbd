// Acceptance 2: the ibverbs-utils pingpongs, server and client in two
// containers, 1000 exchanges, data checking on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePair, expectPairOk, parsePingpong, runPair } from './harness/apps.js';
import { World } from './harness/world.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const ITERS = 1000;

interface Case { bin: string; flags: string[]; sizes: number[] }
const CASES: Case[] = [
  { bin: 'ibv_rc_pingpong', flags: [], sizes: [1, 4 * KiB, MiB] },
  { bin: 'ibv_rc_pingpong', flags: ['-e'], sizes: [1, 4 * KiB, MiB] },
  { bin: 'ibv_rc_pingpong', flags: ['-N'], sizes: [1, 4 * KiB, MiB] },
  { bin: 'ibv_uc_pingpong', flags: [], sizes: [1, 4 * KiB, MiB] },
  // UD: a message must fit the port MTU (4096); ibv_ud_pingpong refuses more
  { bin: 'ibv_ud_pingpong', flags: [], sizes: [1, 4 * KiB] },
  { bin: 'ibv_srq_pingpong', flags: [], sizes: [1, 4 * KiB, MiB] },
];

const rows = CASES.flatMap((c) => c.sizes.map((size) => ({ ...c, size, label: `${c.bin} ${c.flags.join(' ')} -s ${size}`.replace(/\s+/g, ' ') })));

describe('ibverbs-utils pingpongs across two containers', () => {
  let w: World;
  beforeAll(async () => {
    w = await World.create([{ name: 'srv', tenant: 1 }, { name: 'cli', tenant: 1 }]);
  });
  afterAll(async () => { await w?.teardown(); });

  it.each(rows)('$label', async ({ bin, flags, size }) => {
    const argv = [bin, '-d', 'ffr0', '-g', '0', '-n', String(ITERS), '-s', String(size), '-c', ...flags];
    const p = await runPair({ server: w.c('srv'), client: w.c('cli'), serverArgv: argv, socket: w.socket, timeoutMs: 90_000 });
    expectPairOk(p, w.logs);
    for (const side of [p.server, p.client]) {
      const r = parsePingpong(side.stdout);
      expect(r, describePair(p)).toBeDefined();
      expect(r!.iters).toBe(ITERS);
      expect(r!.bytes).toBe(2 * size * ITERS);
      expect(r!.mbps).toBeGreaterThan(0);
    }
  });
});
