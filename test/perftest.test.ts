// Acceptance 3: perftest across two containers. Every run completes on both
// sides and the client prints a result table whose rows parse.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { expectPairOk, runPair } from './harness/apps.js';
import { checkPerftest, PERFTEST_CASES, perftestArgv } from './harness/cases.js';
import { World } from './harness/world.js';

describe('perftest across two containers', () => {
  let w: World;
  beforeAll(async () => {
    w = await World.create([{ name: 'srv', tenant: 1 }, { name: 'cli', tenant: 1 }]);
  });
  afterAll(async () => { await w?.teardown(); });

  it.each(PERFTEST_CASES)('$label', async (c) => {
    const p = await runPair({ server: w.c('srv'), client: w.c('cli'), serverArgv: perftestArgv(c), socket: w.socket, timeoutMs: 150_000 });
    expectPairOk(p, w.logs);
    checkPerftest(p, c);
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
