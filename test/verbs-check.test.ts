// Acceptance 4: the project's own verbs program (test/c/verbs_check/) in two
// containers: byte-exact data after every operation and the error semantics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePair, parseTap, runPair, type PairResult } from './harness/apps.js';
import { PATHS, requireProducts } from './harness/paths.js';
import { VERBS_CHECKS } from './harness/cases.js';
import { World } from './harness/world.js';


describe('verbs_check (data and error semantics)', () => {
  let w: World;
  beforeAll(async () => {
    requireProducts('verbsCheck');
    w = await World.create([{ name: 'srv', tenant: 1 }, { name: 'cli', tenant: 1 }]);
  });
  afterAll(async () => { await w?.teardown(); });

  for (const addressing of [{ label: 'LID addressing', flags: [] as string[] }, { label: 'GID addressing (-g 0)', flags: ['-g', '0'] }]) {
    describe(addressing.label, () => {
      let p: PairResult;
      let tap: ReturnType<typeof parseTap>;
      beforeAll(async () => {
        p = await runPair({
          server: w.c('srv'), client: w.c('cli'), socket: w.socket, timeoutMs: 120_000,
          serverArgv: [PATHS.verbsCheck, '--server', '-d', 'ffr0', ...addressing.flags],
          clientArgvFn: (ip) => [PATHS.verbsCheck, '--client', ip, '-d', 'ffr0', ...addressing.flags],
        });
        tap = parseTap(p.client.stdout);
      }, 150_000);

      it('client and server exit 0 with no failed check', () => {
        expect(tap.notOk, describePair(p, w.logs())).toEqual([]);
        expect(p.client.code, describePair(p, w.logs())).toBe(0);
        expect(p.server.code, describePair(p, w.logs())).toBe(0);
      });

      it.each(VERBS_CHECKS)('%s', (name) => {
        const bad = tap.notOk.find((n) => n.name === name);
        expect(bad?.detail, `not ok ${name}`).toBeUndefined();
        expect(tap.ok, `no "ok ${name}" line\n${describePair(p)}`).toContain(name);
      });
    });
  }
});
