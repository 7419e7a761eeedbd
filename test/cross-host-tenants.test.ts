// Issue 3, acceptance 4: two tenants with the same virtual IPs on the same
// two hosts stay separate: both work, neither reaches the other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePair, expectPairOk, runPair } from './harness/apps.js';
import { checkPingpong } from './harness/cases.js';
import { Cluster } from './harness/cluster.js';

describe('tenants across hosts', () => {
  let w: Cluster;
  beforeAll(async () => {
    w = await Cluster.create({
      hosts: {
        h1: [{ name: 'ta1', tenant: 'red', vip: '192.168.7.1' }, { name: 'tb1', tenant: 'blue', vip: '192.168.7.1' }],
        h2: [{ name: 'ta2', tenant: 'red', vip: '192.168.7.2' }, { name: 'tb2', tenant: 'blue', vip: '192.168.7.2' }],
      },
    });
  });
  afterAll(async () => { await w?.teardown(); });

  const pingpong = (server: string, client: string, port: number, gid = true) => runPair({
    server: w.c(server), client: w.c(client), port, timeoutMs: 60_000, graceMs: 3_000,
    serverArgv: ['ibv_rc_pingpong', '-d', 'ffr0', ...(gid ? ['-g', '0'] : []), '-c', '-n', '500', '-s', '4096', '-p', String(port)],
    serverSocket: w.socketOf(server), clientSocket: w.socketOf(client),
  });

  it('the registry holds both tenants with the same VIPs and the same LIDs, each on its own host', async () => {
    for (const h of ['h1', 'h2']) {
      const list = (await w.ctl.get(h)!.ok(['container', 'ls'], true)).json as { name: string; tenant: string; vip: string; lid: number; host: string }[];
      const by = Object.fromEntries(list.map((c) => [c.name, c]));
      expect(Object.keys(by).sort()).toEqual(['ta1', 'ta2', 'tb1', 'tb2']);
      expect(by['ta1']!.vip).toBe(by['tb1']!.vip);
      expect(by['ta2']!.vip).toBe(by['tb2']!.vip);
      // LIDs are per tenant: the same numbers name different ports
      expect([by['ta1']!.lid, by['ta2']!.lid]).toEqual([by['tb1']!.lid, by['tb2']!.lid]);
      expect([by['ta1']!.host, by['ta2']!.host]).toEqual(['h1', 'h2']);
    }
  });

  it('both tenants run at once, each between its own containers', async () => {
    const [red, blue] = await Promise.all([pingpong('ta1', 'ta2', 18701), pingpong('tb1', 'tb2', 18702)]);
    expectPairOk(red, w.logs);
    expectPairOk(blue, w.logs);
    checkPingpong(red, 4096, 500);
    checkPingpong(blue, 4096, 500);
  });

  it('a blue client cannot connect to a red server on the other host', async () => {
    const p = await pingpong('ta1', 'tb2', 18703);
    expect(p.client.code, describePair(p)).not.toBe(0);
    expect(p.server.code, describePair(p)).not.toBe(0);
    // The red server's router refuses the blue client's port GID at RTR:
    // its tenant id is part of the GID, so the same LID names another port.
    expect(w.router('h1').logs(), describePair(p)).toMatch(/refused to connect: dgid \S+ is not the port GID of a container of tenant red/);
  });

  it('with LID addressing the routers connect them, and each side\'s frames die at the other tenant\'s QP', async () => {
    // Each side resolves the other's LID in its own tenant: a real port, but
    // not the peer's QP. The receiving routers drop frames whose tenant is
    // not their QP's, so both time out; nothing reaches the other tenant.
    const p = await pingpong('ta1', 'tb2', 18704, false);
    expect(p.client.code, describePair(p)).not.toBe(0);
    expect(p.server.code, describePair(p)).not.toBe(0);
    expect(`${p.client.stderr}${p.server.stderr}`, describePair(p)).toMatch(/transport retry counter exceeded \(12\)/);
  });
});
