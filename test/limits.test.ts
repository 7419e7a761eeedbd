// Limits on the control socket: a container cannot hold more sessions than
// its quota, and a connection that never says hello does not keep router
// resources.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApp, startApp, waitListening } from './harness/apps.js';
import { sleep } from './harness/proc.js';
import { World } from './harness/world.js';

describe('control-socket limits', () => {
  let w: World;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ffr-limits-'));
    const config = join(dir, 'router.json');
    writeFileSync(config, JSON.stringify({ quotas: { maxSessions: 1 } }));
    w = await World.create([{ name: 'q1' }], { extraArgs: ['--config', config] });
  });
  afterAll(async () => {
    await w?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a container at its session quota gets no second session, and gets one again when the first ends', async () => {
    // The pingpong server holds one session while it waits for a client.
    const holder = startApp(w.c('q1'), ['ibv_rc_pingpong', '-d', 'ffr0', '-g', '0'], { socket: w.socket, timeoutMs: 60_000, label: 'holder' });
    await waitListening(w.c('q1'), 18515, 20_000, holder);
    const refused = await runApp(w.c('q1'), ['ibv_devices'], { socket: w.socket, timeoutMs: 20_000 });
    const why = `${refused.stdout}\n${refused.stderr}\n${w.logs()}`;
    expect(refused.stdout, why).not.toMatch(/ffr0/);
    expect(refused.stderr, why).toMatch(/session quota/);
    expect(w.logs(), why).toMatch(/quota: tenant 1 container q1: sessions \+1 refused: container q1 holds 1, --max-sessions 1/);

    holder.killGroup('SIGKILL');
    await holder.done;
    let again = '';
    for (let i = 0; i < 50 && !/ffr0/.test(again); i++) {
      await sleep(100);
      again = (await runApp(w.c('q1'), ['ibv_devices'], { socket: w.socket, timeoutMs: 20_000 })).stdout;
    }
    expect(again, w.logs()).toMatch(/ffr0/);
  });

  it('a connection that never says hello is closed by the router', async () => {
    const t0 = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const sock = connect(w.socket);
      const bound = setTimeout(() => { sock.destroy(); reject(new Error(`still open after 15 s\n${w.logs()}`)); }, 15_000);
      sock.on('error', () => undefined);
      sock.on('close', () => { clearTimeout(bound); resolve(Date.now() - t0); });
    });
    expect(closedAfter).toBeGreaterThanOrEqual(4000);
    expect(w.logs()).toMatch(/no hello within 5000 ms/);
  });
});
