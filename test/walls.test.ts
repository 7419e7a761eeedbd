// Acceptance 6: tenants are walls, and only registered containers get a device.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePair, expectOk, parseTap, runApp, startApp, waitListening } from './harness/apps.js';
import { PATHS, requireProducts } from './harness/paths.js';
import { describeOutput } from './harness/proc.js';
import { World } from './harness/world.js';

describe('tenant walls and registration', () => {
  let w: World;
  beforeAll(async () => {
    requireProducts('verbsCheck');
    w = await World.create([
      { name: 'a1', tenant: 1 },
      { name: 'b1', tenant: 2 },
      { name: 'b2', tenant: 2 },
      { name: 'u1', register: false },
      { name: 'r1', tenant: 2 },
    ]);
  });
  afterAll(async () => { await w?.teardown(); });

  it('tenant B cannot connect to tenant A\'s QP nor use its rkey; nothing is written', async () => {
    const a1 = startApp(w.c('a1'), [PATHS.verbsCheck, '--server', '-d', 'ffr0'], { socket: w.socket, timeoutMs: 90_000, label: 'a1 server' });
    const b2 = startApp(w.c('b2'), [PATHS.verbsCheck, '--server', '-d', 'ffr0'], { socket: w.socket, timeoutMs: 90_000, label: 'b2 server' });
    await waitListening(w.c('a1'), 18515, 20_000, a1);
    await waitListening(w.c('b2'), 18515, 20_000, b2);
    const cli = await runApp(w.c('b1'), [PATHS.verbsCheck, '--wall', '--peer', w.c('b2').ip, '--foreign', w.c('a1').ip, '-d', 'ffr0'],
      { socket: w.socket, timeoutMs: 90_000 });
    const [ra, rb] = await Promise.all([a1.waitExit(15_000), b2.waitExit(15_000)]);
    const all = `CLIENT b1\n${describeOutput(cli)}\n\nSERVER a1\n${a1.describe()}\n\nSERVER b2\n${b2.describe()}\n\n${w.logs()}`;
    const tap = parseTap(cli.stdout);
    expect(tap.notOk, all).toEqual([]);
    for (const name of ['write_4096', 'wall_connect_write', 'wall_connect_send', 'wall_rkey_write', 'wall_rkey_read']) {
      expect(tap.ok, `${name}\n${all}`).toContain(name);
    }
    expect(cli.code, all).toBe(0);
    expect(ra?.code, all).toBe(0);
    expect(rb?.code, all).toBe(0);
  });

  it('a process of an unregistered network namespace is refused', async () => {
    const r = await runApp(w.c('u1'), ['ibv_devices'], { socket: w.socket, timeoutMs: 20_000 });
    expect(r.timedOut).toBe(false);
    expect(r.stdout, describeOutput(r)).not.toMatch(/ffr0/);
    expect(r.stderr, describeOutput(r)).toMatch(/refused/i);
    const d = await runApp(w.c('u1'), ['ibv_devinfo'], { socket: w.socket, timeoutMs: 20_000 });
    expect(d.stdout + d.stderr, describeOutput(d)).toMatch(/No IB devices found|refused/i);
    expect(d.stdout).not.toMatch(/hca_id:\s+ffr0/);
    // the router names the refused process: pid and net:[inode]
    expect(w.router!.proc.stdout + w.router!.proc.stderr).toMatch(/net:\[\d+\]/);
  });

  it('a container removed with ffctl container rm is refused afterwards', async () => {
    const before = await runApp(w.c('r1'), ['ibv_devices'], { socket: w.socket, timeoutMs: 20_000 });
    expectOk(before, w.logs);
    expect(before.stdout).toMatch(/ffr0/);
    await w.ctl!.rmContainer('r1');
    const after = await runApp(w.c('r1'), ['ibv_devices'], { socket: w.socket, timeoutMs: 20_000 });
    expect(after.stdout, describeOutput(after)).not.toMatch(/ffr0/);
    expect(after.stderr).toMatch(/refused/i);
    const names = (await w.ctl!.containers()).map((c) => c.name);
    expect(names).not.toContain('r1');
  });

  it('a verbs app without the router socket fails cleanly (no hang)', async () => {
    const r = await runApp(w.c('b1'), ['ibv_devinfo', '-d', 'ffr0'], { socket: '/nonexistent/ffrouter.sock', timeoutMs: 20_000 });
    expect(r.timedOut, describePair({ server: r, client: r })).toBe(false);
    expect(r.stdout).not.toMatch(/hca_id:\s+ffr0/);
  });
});
