// --dataplane-cpus: the operator gives the data-plane thread cores of its
// own (a router sharing a core with an app that spins on memory waits for
// that app's scheduler slice). The thread is pinned, named, still serves a
// real app, and a CPU the router may not use is a start-up error.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectPairOk, runPair } from './harness/apps.js';
import { checkPingpong } from './harness/cases.js';
import { Router } from './harness/router.js';
import { World } from './harness/world.js';

/** The CPUs this process may run on, as /proc says (taskset and cpusets narrow it). */
function allowedCpus(): number[] {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('Cpus_allowed_list:'))!;
  const out: number[] = [];
  for (const part of line.split(':')[1]!.trim().split(',')) {
    const [lo, hi] = part.split('-').map(Number);
    for (let c = lo!; c <= (hi ?? lo!); c++) out.push(c);
  }
  return out;
}

/** name -> Cpus_allowed_list of every thread of pid. */
function threads(pid: number): { name: string; cpus: string }[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const dir = `/proc/${pid}/task/${tid}`;
    const status = readFileSync(`${dir}/status`, 'utf8');
    return { name: readFileSync(`${dir}/comm`, 'utf8').trim(), cpus: /Cpus_allowed_list:\s*(\S+)/.exec(status)![1]! };
  });
}

describe('--dataplane-cpus', () => {
  const cpu = allowedCpus().at(-1)!;
  let w: World;
  beforeAll(async () => {
    w = await World.create([{ name: 'srv', tenant: 1 }, { name: 'cli', tenant: 1 }], { extraArgs: ['--dataplane-cpus', String(cpu)] });
  });
  afterAll(async () => { await w?.teardown(); });

  it('pins the ffr-dataplane thread, and only it', () => {
    const pid = w.router!.proc.pid!;
    const all = threads(pid);
    const dp = all.filter((t) => t.name === 'ffr-dataplane');
    expect(dp, JSON.stringify(all)).toEqual([{ name: 'ffr-dataplane', cpus: String(cpu) }]);
    // The JS thread keeps the process's whole set.
    expect(all.find((t) => t.name !== 'ffr-dataplane')!.cpus).toBe(readFileSync(`/proc/${pid}/status`, 'utf8').match(/Cpus_allowed_list:\s*(\S+)/)![1]);
    expect(w.router!.logs()).toContain(`data plane on CPUs ${cpu}`);
  });

  it('serves a real app through the pinned thread', async () => {
    const argv = ['ibv_rc_pingpong', '-d', 'ffr0', '-g', '0', '-n', '200', '-s', '4096'];
    const p = await runPair({ server: w.c('srv'), client: w.c('cli'), serverArgv: argv, socket: w.socket, timeoutMs: 60_000 });
    expectPairOk(p, w.logs);
    checkPingpong(p, 4096, 200);
  });

  it('refuses a CPU outside the process\'s set at start-up, naming it', async () => {
    const err = await Router.start({ extraArgs: ['--dataplane-cpus', '1023'] }).then(() => null, (e: Error) => e);
    expect(err?.message).toContain('CPU 1023 is not among the CPUs this process may run on');
  });

  it('refuses a malformed list at start-up', async () => {
    const err = await Router.start({ extraArgs: ['--dataplane-cpus', '3-1'] }).then(() => null, (e: Error) => e);
    expect(err?.message).toContain('dataplaneCpus: expected CPU numbers');
  });
});
