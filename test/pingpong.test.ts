// Acceptance 2: the ibverbs-utils pingpongs, server and client in two
// containers, 1000 exchanges, data checking on.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { expectPairOk, runPair } from './harness/apps.js';
import { checkPingpong, PINGPONG_CASES, pingpongArgv } from './harness/cases.js';
import { World } from './harness/world.js';

describe('ibverbs-utils pingpongs across two containers', () => {
  let w: World;
  beforeAll(async () => {
    w = await World.create([{ name: 'srv', tenant: 1 }, { name: 'cli', tenant: 1 }]);
  });
  afterAll(async () => { await w?.teardown(); });

  it.each(PINGPONG_CASES)('$label', async (c) => {
    const p = await runPair({ server: w.c('srv'), client: w.c('cli'), serverArgv: pingpongArgv(c), socket: w.socket, timeoutMs: 90_000 });
    expectPairOk(p, w.logs);
    checkPingpong(p, c.size);
  });
});
