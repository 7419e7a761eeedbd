// Acceptance 1: the virtual device as unmodified ibverbs-utils see it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, runApp } from './harness/apps.js';
import { PATHS } from './harness/paths.js';
import { World } from './harness/world.js';

/** `key: value` lines of ibv_devinfo -v (first occurrence wins; port lines after "port:"). */
function parseDevinfo(text: string): { dev: Record<string, string>; port: Record<string, string>; gids: string[] } {
  const dev: Record<string, string> = {};
  const port: Record<string, string> = {};
  const gids: string[] = [];
  let inPort = false;
  for (const line of text.split('\n')) {
    const g = line.match(/GID\[\s*(\d+)\]:\s+([0-9a-f:]+)/i);
    if (g) { gids[Number(g[1])] = g[2]!; continue; }
    const m = line.match(/^\s*([a-zA-Z_][\w ]*?):\s*(.*?)\s*$/);
    if (!m) continue;
    if (m[1] === 'port') { inPort = true; continue; }
    const tgt = inPort ? port : dev;
    if (!(m[1]! in tgt)) tgt[m[1]!] = m[2]!;
  }
  return { dev, port, gids };
}

const num = (s: string | undefined) => (s === undefined ? NaN : Number(s.split(/\s/)[0]));
const guidNonZero = (s: string | undefined) => !!s && /[1-9a-f]/i.test(s.replace(/[:\s]/g, ''));

describe('virtual device (ibv_devices, ibv_devinfo -v)', () => {
  let w: World;
  beforeAll(async () => {
    w = await World.create([{ name: 'c1', tenant: 1 }, { name: 'c2', tenant: 1 }]);
  });
  afterAll(async () => { await w?.teardown(); });

  it('ibv_devices lists ffr0 with a non-zero node GUID', async () => {
    const r = await runApp(w.c('c1'), ['ibv_devices'], { socket: w.socket, timeoutMs: 20_000 });
    expectOk(r, w.logs);
    const m = r.stdout.match(/^\s*ffr0\s+([0-9a-f]{16})\s*$/m);
    expect(m, r.stdout).not.toBeNull();
    expect(BigInt(`0x${m![1]}`)).not.toBe(0n);
  });

  it('ibv_devinfo -v shows sane attributes: vendor id, GUID, active port, realistic limits', async () => {
    const r = await runApp(w.c('c1'), ['ibv_devinfo', '-v', '-d', 'ffr0'], { socket: w.socket, timeoutMs: 20_000 });
    expectOk(r, w.logs);
    const { dev, port, gids } = parseDevinfo(r.stdout);
    expect(r.stdout).toMatch(/hca_id:\s+ffr0/);
    expect(num(dev.vendor_id), 'vendor_id').toBeGreaterThan(0);
    expect(guidNonZero(dev.node_guid), `node_guid ${dev.node_guid}`).toBe(true);
    expect(guidNonZero(dev.sys_image_guid), `sys_image_guid ${dev.sys_image_guid}`).toBe(true);
    expect(num(dev.phys_port_cnt)).toBe(1);
    expect(num(dev.max_qp)).toBeGreaterThanOrEqual(64);
    expect(num(dev.max_qp_wr)).toBeGreaterThanOrEqual(1024);
    expect(num(dev.max_sge)).toBeGreaterThanOrEqual(4);
    expect(num(dev.max_cq)).toBeGreaterThanOrEqual(64);
    expect(num(dev.max_cqe)).toBeGreaterThanOrEqual(1024);
    expect(num(dev.max_mr)).toBeGreaterThanOrEqual(64);
    expect(num(dev.max_pd)).toBeGreaterThanOrEqual(1);
    expect(num(dev.max_qp_rd_atom)).toBeGreaterThanOrEqual(1);
    expect(num(dev.max_srq)).toBeGreaterThanOrEqual(1);
    expect(BigInt(dev.max_mr_size?.split(/\s/)[0] ?? '0')).toBeGreaterThanOrEqual(1n << 30n);
    expect(dev.atomic_cap ?? '', 'atomic_cap').not.toMatch(/ATOMIC_NONE/);
    expect(port.state, 'port state').toMatch(/PORT_ACTIVE/);
    expect(port.active_mtu, 'active_mtu').toMatch(/^4096/);
    expect(port.link_layer, 'link_layer').toMatch(/InfiniBand/);
    expect(num(port.port_lid), 'port_lid').toBeGreaterThan(0);
    expect(gids[0], 'GID[0]').toMatch(/^fe80:/);
    expect(guidNonZero(gids[0]), 'GID[0] non-zero').toBe(true);
  });

  it('two containers see distinct LIDs and GUIDs', async () => {
    const [a, b] = await Promise.all(['c1', 'c2'].map((n) => runApp(w.c(n), ['ibv_devinfo', '-v', '-d', 'ffr0'], { socket: w.socket, timeoutMs: 20_000 })));
    expectOk(a!, w.logs);
    expectOk(b!, w.logs);
    const pa = parseDevinfo(a!.stdout);
    const pb = parseDevinfo(b!.stdout);
    expect(pa.port.port_lid).not.toBe(pb.port.port_lid);
    expect(pa.dev.node_guid).not.toBe(pb.dev.node_guid);
    expect(pa.gids[0]).not.toBe(pb.gids[0]);
  });

  it('ffctl lists the containers and prints the environment an app needs', async () => {
    const list = await w.ctl!.containers();
    const names = list.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['c1', 'c2']));
    const env = await w.ctl!.env('c1');
    expect(env.FFR_SOCKET).toBe(w.socket);
    expect(env.LD_PRELOAD ?? '').toMatch(/libffshim\.so/);
    expect(PATHS.shim).toMatch(/libffshim\.so$/);
  });
});
