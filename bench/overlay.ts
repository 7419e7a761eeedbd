/**
 * A VXLAN overlay between the two hosts of a test cluster, built the way
 * container overlay networks (Docker's overlay driver, flannel's vxlan
 * backend) build theirs: in each host namespace a VXLAN device over the wan
 * address, enslaved to a per-host overlay bridge, and each chosen container
 * given a second interface on that bridge. The containers then share one
 * flat layer-2 segment across hosts, and every frame between them is
 * encapsulated in UDP on the wan:
 *
 *   container eth1 10.99.<host>.<k>/16 -> veth o<k> -> host ovl0 (bridge)
 *     -> vx0 (VNI 42, UDP 4789, remote = the other host's wan address) -> wan0
 *
 * Everything lives in the cluster's namespaces, so ClusterNet.destroy()
 * removes it with them.
 */
import type { ClusterNet } from '../test/harness/cluster-net.js';
import { ip, type Container } from '../test/harness/netns.js';

const VNI = 42;
const VXLAN_PORT = 4789;
/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers. */
const VXLAN_OVERHEAD = 50;

function linkMtu(ns: string, dev: string): number {
  const [link] = JSON.parse(ip(['-j', '-n', ns, 'link', 'show', dev])) as { mtu: number }[];
  if (!link) throw new Error(`no link ${dev} in ${ns}`);
  return link.mtu;
}

/**
 * Attaches the named containers to a VXLAN overlay between the cluster's two
 * hosts (point to point: one static remote per host, as two hosts need no
 * flooding list). Returns each container as seen on the overlay: the same
 * namespace with `ip` its overlay address, ready for the TCP baselines.
 */
export function vxlanOverlay(net: ClusterNet, names: string[]): Map<string, Container> {
  const hosts = [...net.hosts.values()];
  if (hosts.length !== 2) throw new Error(`vxlanOverlay: needs exactly 2 hosts, the cluster has ${hosts.length}`);
  const mtu = new Map<string, number>();
  hosts.forEach((h, i) => {
    const other = hosts[1 - i]!;
    // room for the encapsulation inside the wan's MTU, or large frames would be dropped
    const m = linkMtu(h.ns, 'wan0') - VXLAN_OVERHEAD;
    mtu.set(h.name, m);
    ip(['-n', h.ns, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', String(VNI), 'local', h.wanIp, 'remote', other.wanIp,
      'dstport', String(VXLAN_PORT), 'dev', 'wan0']);
    ip(['-n', h.ns, 'link', 'set', 'vx0', 'mtu', String(m)]);
    ip(['-n', h.ns, 'link', 'add', 'ovl0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    ip(['-n', h.ns, 'link', 'set', 'vx0', 'master', 'ovl0']);
    ip(['-n', h.ns, 'link', 'set', 'vx0', 'up']);
    ip(['-n', h.ns, 'link', 'set', 'ovl0', 'up']);
  });
  const out = new Map<string, Container>();
  for (const name of names) {
    const c = net.get(name);
    const h = net.hostOf(c);
    const m = String(mtu.get(h.name)!);
    const addr = `10.99.${h.index}.${c.index + 1}`;
    ip(['-n', h.ns, 'link', 'add', `o${c.index}`, 'mtu', m, 'type', 'veth', 'peer', 'name', 'eth1', 'mtu', m, 'netns', c.ns]);
    ip(['-n', h.ns, 'link', 'set', `o${c.index}`, 'master', 'ovl0']);
    ip(['-n', h.ns, 'link', 'set', `o${c.index}`, 'up']);
    ip(['-n', c.ns, 'addr', 'add', `${addr}/16`, 'dev', 'eth1']);
    ip(['-n', c.ns, 'link', 'set', 'eth1', 'up']);
    out.set(name, { name: c.name, ns: c.ns, ip: addr, index: c.index });
  }
  return out;
}
