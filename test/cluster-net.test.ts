// The two-host network of the cross-host tests, with no product involved:
// containers on different hosts reach each other over TCP through their
// hosts' forwarding and the wan bridge only, a cut wan link stops exactly
// that host's traffic until it is restored, and destroy() leaves nothing.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nsExec, startApp, waitListening } from './harness/apps.js';
import { ClusterNet, INFRA_IP, tcpProbe, type TcpProbe } from './harness/cluster-net.js';
import { listNamespaces, NS_PREFIX, OWNERS } from './harness/netns.js';
import type { Proc } from './harness/proc.js';

const PORT = 7000;
// accepts and closes, forever (bounded by the Proc's timeout)
const LISTENER = `import socket
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0',${PORT})); s.listen(16)
while True:
  c,_=s.accept(); c.close()`;

/** Probes until the wanted answer or the deadline; returns the last answer. */
async function probeUntil(ns: string, addr: string, want: TcpProbe, deadlineMs: number): Promise<TcpProbe> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const r = await tcpProbe(ns, addr, PORT, 1000);
    if (r === want || Date.now() > end) return r;
    await new Promise((res) => setTimeout(res, 200));
  }
}

describe('cluster-net: two hosts on a wan bridge', () => {
  let net: ClusterNet;
  const listeners: Proc[] = [];
  beforeAll(async () => {
    net = ClusterNet.create({ containers: { h1: ['a1', 'a2'], h2: ['b1', 'b2'] } });
    for (const n of ['b1', 'a2']) {
      const p = startApp(net.get(n), ['python3', '-c', LISTENER], { preload: false, lineBuffered: false, timeoutMs: 60_000, label: `listener ${n}` });
      listeners.push(p);
      await waitListening(net.get(n), PORT, 10_000, p);
    }
    const pi = startApp(net.infra.ns, ['python3', '-c', LISTENER], { preload: false, lineBuffered: false, timeoutMs: 60_000, label: 'listener infra' });
    listeners.push(pi);
    await waitListening(net.infra.ns, PORT, 10_000, pi);
  });
  afterAll(() => {
    for (const p of listeners) p.killGroup('SIGKILL');
    net?.destroy();
  });

  it('addresses and routes follow the plan; the only way between hosts is the wan veth', async () => {
    const [h1, h2] = [net.host('h1'), net.host('h2')];
    expect([h1.wanIp, h2.wanIp, net.infra.ip]).toEqual(['10.88.0.1', '10.88.0.2', INFRA_IP]);
    expect([net.get('a1').ip, net.get('a2').ip, net.get('b1').ip, net.get('b2').ip]).toEqual(['10.77.1.1', '10.77.1.2', '10.77.2.1', '10.77.2.2']);
    expect(net.get('b2')).toMatchObject({ host: 'h2', index: 1 });
    const c = await nsExec(net.get('a1'), ['ip', 'route', 'get', net.get('b1').ip], 5000);
    expect(c.stdout).toContain(`via ${h1.gatewayIp} dev eth0`);
    const h = await nsExec(h1.ns, ['ip', 'route', 'get', net.get('b1').ip], 5000);
    expect(h.stdout).toContain(`via ${h2.wanIp} dev wan0`);
    const f = await nsExec(h1.ns, ['sysctl', '-n', 'net.ipv4.ip_forward'], 5000);
    expect(f.stdout.trim()).toBe('1');
    // nothing outside the namespaces: no default route on a host
    expect((await nsExec(h1.ns, ['ip', 'route', 'get', '1.1.1.1'], 5000)).code).not.toBe(0);
  });

  it('TCP between containers of different hosts, both ways, and to infra from a host', async () => {
    expect(await tcpProbe(net.get('a1').ns, net.get('b1').ip, PORT)).toBe('open');
    expect(await tcpProbe(net.get('b2').ns, net.get('a2').ip, PORT)).toBe('open');
    // an RST from a1 (nothing listens) proves the way back from h1 to h2's subnet
    expect(await tcpProbe(net.get('b1').ns, net.get('a1').ip, PORT)).toBe('refused');
    expect(await tcpProbe(net.host('h1').ns, INFRA_IP, PORT)).toBe('open');
    expect(await tcpProbe(net.host('h2').ns, INFRA_IP, PORT)).toBe('open');
  });

  it('linkDown(h2) stops h1<->h2 and h2<->infra within seconds; h1 keeps infra and its own containers', async () => {
    net.linkDown('h2');
    expect(net.isLinkUp('h2')).toBe(false);
    expect(await probeUntil(net.get('a1').ns, net.get('b1').ip, 'timeout', 3000)).toBe('timeout');
    expect(await tcpProbe(net.host('h2').ns, INFRA_IP, PORT, 1000)).not.toMatch(/open|refused/);
    expect(await tcpProbe(net.host('h1').ns, INFRA_IP, PORT)).toBe('open');
    expect(await tcpProbe(net.get('a1').ns, net.get('a2').ip, PORT)).toBe('open');
    expect(await tcpProbe(net.get('b2').ns, net.get('b1').ip, PORT)).toBe('open');

    net.linkUp('h2');
    expect(net.isLinkUp('h2')).toBe(true);
    expect(await probeUntil(net.get('a1').ns, net.get('b1').ip, 'open', 5000)).toBe('open');
    expect(await probeUntil(net.host('h2').ns, INFRA_IP, 'open', 5000)).toBe('open');
  });

  it('destroy() removes every namespace of the run and its owner file, and is idempotent', async () => {
    const run = net.run;
    const mine = () => listNamespaces().filter((n) => n.startsWith(`${NS_PREFIX}${run}-`));
    expect(mine().length).toBe(1 + 1 + 2 + 4); // hub, infra, hosts, containers
    net.destroy();
    net.destroy();
    expect(mine()).toEqual([]);
    expect(existsSync(join(OWNERS, run))).toBe(false);
    for (const p of listeners) expect(await p.waitExit(5000)).toBeDefined();
  });
});
