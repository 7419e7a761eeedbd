// The harness itself, with no product involved: namespaces on a bridge reach
// each other over TCP (and nothing else), a program in a namespace is killed
// at its bound, a server/client pair meets on port 18515, parsers read what
// the real binaries print, and teardown leaves nothing behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isListening, nsExec, parsePerftest, parsePingpong, parseTap, runApp, runPair, startApp } from './harness/apps.js';
import { listNamespaces, Net } from './harness/netns.js';
import { liveCount, run } from './harness/proc.js';
import { parseMetrics, sumOf } from './harness/metrics.js';
import { parseEnvLines } from './harness/ffctl.js';

describe('harness: namespaces, bridge, processes', () => {
  let net: Net;
  beforeAll(() => { net = Net.create(['h1', 'h2']); });
  afterAll(() => { net?.destroy(); });

  it('containers have a route to each other over the bridge and to nothing else', async () => {
    const [a, b] = [net.get('h1'), net.get('h2')];
    const r = await nsExec(a, ['ip', 'route', 'get', b.ip], 5000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('dev eth0');
    // no default route: anything outside 10.77.x.0/24 is unreachable
    const out = await nsExec(a, ['ip', 'route', 'get', '1.1.1.1'], 5000);
    expect(out.code).not.toBe(0);
  });

  it('a TCP exchange between two containers (server waits on 18515)', async () => {
    const [a, b] = [net.get('h1'), net.get('h2')];
    const server = `import socket
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0',18515)); s.listen(1)
c,_=s.accept(); d=c.recv(100); c.sendall(b'pong:'+d); c.close()`;
    const client = `import socket,sys
c=socket.create_connection((sys.argv[1],18515),5); c.sendall(b'ping'); print(c.recv(100).decode())`;
    const p = await runPair({
      server: a, client: b, preload: false, timeoutMs: 20_000,
      serverArgv: ['python3', '-c', server],
      clientArgvFn: (ip) => ['python3', '-c', client, ip],
    });
    expect(p.client.code, p.client.stderr).toBe(0);
    expect(p.server.code, p.server.stderr).toBe(0);
    expect(p.client.stdout.trim()).toBe('pong:ping');
    expect(await isListening(a, 18515)).toBe(false);
  });

  it('a program that outlives its bound is killed and reported', async () => {
    const r = await runApp(net.get('h1'), ['sleep', '30'], { preload: false, timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGKILL');
    expect(r.durationMs).toBeLessThan(5000);
  });

  it('a Debian verbs binary runs inside a namespace (without the shim: no device)', async () => {
    const r = await runApp(net.get('h2'), ['ibv_devices'], { preload: false, timeoutMs: 10_000 });
    expect(r.timedOut).toBe(false);
    expect(r.stdout + r.stderr).not.toMatch(/ffr0/);
  });

  it('the environment reaches the app and LD_PRELOAD is not set on ip/env', async () => {
    const r = await runApp(net.get('h1'), ['sh', '-c', 'echo "$FFR_SOCKET|$LD_PRELOAD|$X"'], { preload: false, lineBuffered: false, socket: '/tmp/x.sock', env: { X: 'y' }, timeoutMs: 5000 });
    expect(r.stdout.trim()).toBe('/tmp/x.sock||y');
  });

  it('killing a started app with SIGKILL is observed at once', async () => {
    const p = startApp(net.get('h1'), ['sleep', '30'], { preload: false, timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 200));
    p.signal('SIGKILL');
    const r = await p.waitExit(5000);
    expect(r?.signal).toBe('SIGKILL');
  });

  it('teardown deletes every namespace of the run', async () => {
    const extra = Net.create(['t1']);
    const names = [extra.hub, extra.get('t1').ns];
    expect(listNamespaces()).toEqual(expect.arrayContaining(names));
    const p = startApp(extra.get('t1'), ['sleep', '30'], { preload: false, timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 200));
    extra.destroy();
    for (const n of names) expect(listNamespaces()).not.toContain(n);
    const r = await p.waitExit(5000);
    expect(r).toBeDefined();
    expect(liveCount()).toBe(0);
    const ls = await run('ip', ['netns', 'list'], { timeoutMs: 5000 });
    expect(ls.stdout).not.toContain(extra.run);
  });
});

describe('harness: parsers', () => {
  it('reads a perftest bandwidth table', () => {
    const text = `
---------------------------------------------------------------------------------------
 #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]
 2          100              9.57               9.39   		   4.921473
 65536      100              8045.12            8041.70		   0.128667
---------------------------------------------------------------------------------------
`;
    const t = parsePerftest(text)!;
    expect(t.header).toMatch(/^#bytes/);
    expect(t.rows.map((r) => r.bytes)).toEqual([2, 65536]);
    expect(t.rows[1]!.values).toEqual([8045.12, 8041.7, 0.128667]);
  });

  it('reads a perftest latency table', () => {
    const text = ` #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] 
 2       100          1.05           4.23         1.08                1.09             0.06            1.26                    4.23   
---------------------------------------------------------------------------------------`;
    const t = parsePerftest(text)!;
    expect(t.rows).toHaveLength(1);
    expect(t.rows[0]!.values).toHaveLength(7);
  });

  it('reads pingpong results, verbs_check lines, env lines and metrics', () => {
    const p = parsePingpong('  local address:  LID 0x0001\n8192000 bytes in 0.05 seconds = 1310.72 Mbit/sec\n1000 iters in 0.05 seconds = 50.00 usec/iter\n')!;
    expect(p).toEqual({ bytes: 8192000, seconds: 0.05, mbps: 1310.72, iters: 1000, usecPerIter: 50 });
    const t = parseTap('ok a\nnot ok b: bad thing\n# c\nok d (x)\n');
    expect(t.ok).toEqual(['a', 'd']);
    expect(t.notOk).toEqual([{ name: 'b', detail: 'bad thing' }]);
    expect(parseEnvLines("export LD_PRELOAD='/x/lib.so'\nFFR_SOCKET=/run/s.sock\n# c\n")).toEqual({ LD_PRELOAD: '/x/lib.so', FFR_SOCKET: '/run/s.sock' });
    const m = parseMetrics('# HELP ffr_objects x\nffr_objects{kind="qp",container="a"} 3\nffr_objects{kind="mr",container="a"} 2\nffr_up 1\n');
    expect(sumOf(m, 'ffr_objects')).toBe(5);
    expect(sumOf(m, 'ffr_objects', { kind: 'qp' })).toBe(3);
  });
});
