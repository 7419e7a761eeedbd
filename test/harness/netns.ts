// "Containers" for the tests: network namespaces joined by veth pairs to a
// bridge that lives in a dedicated hub namespace (so the root namespace gets
// no new interface and no traffic leaves the namespaces we create).
//
//   fft-<run>-hub:   br0  <- v<i> ... (veth ends, no addresses)
//   fft-<run>-<name>: eth0 10.77.<net>.<i+1>/24, lo up
//
// Names carry a run id; /run/fft-owners/<run> holds the owning pid so a later
// run can tell leftovers of a dead run (deleted) from a live concurrent run.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onExit } from './exit-hooks.js';

/** Directory of the owner files (one per run id, holding the owning pid). */
export const OWNERS = '/run/fft-owners';
export const NS_PREFIX = 'fft-';

export interface Container {
  /** Logical name used by the test, e.g. "a1". */
  name: string;
  /** Network namespace name under /run/netns. */
  ns: string;
  /** IPv4 address of eth0 inside the namespace. */
  ip: string;
  index: number;
}

/** Runs `ip ARGS` (bounded); throws with ip's stderr unless allowFail, then returns ''. */
export function ip(args: string[], allowFail = false): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
  } catch (e) {
    if (allowFail) return '';
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
}

export function listNamespaces(): string[] {
  return ip(['netns', 'list'], true)
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Kills every process inside a namespace, then deletes it. */
export function deleteNamespace(ns: string): void {
  const pids = ip(['netns', 'pids', ns], true).split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  ip(['netns', 'delete', ns], true);
}

/** Deletes fft-* namespaces left by runs whose owner process is gone. */
export function cleanupStale(): string[] {
  const removed: string[] = [];
  for (const ns of listNamespaces()) {
    if (!ns.startsWith(NS_PREFIX)) continue;
    const run = ns.slice(NS_PREFIX.length).split('-')[0] ?? '';
    let owner = 0;
    try { owner = Number(readFileSync(join(OWNERS, run), 'utf8').trim()); } catch { /* no owner file */ }
    if (owner > 0 && owner !== process.pid && pidAlive(owner)) continue;
    deleteNamespace(ns);
    removed.push(ns);
  }
  try {
    for (const f of readdirSync(OWNERS)) {
      const owner = Number(readFileSync(join(OWNERS, f), 'utf8').trim());
      if (!(owner > 0 && pidAlive(owner))) rmSync(join(OWNERS, f), { force: true });
    }
  } catch { /* no dir */ }
  return removed;
}

const liveNets = new Set<Net>();

export class Net {
  readonly run: string;
  readonly hub: string;
  readonly subnet: number;
  readonly containers = new Map<string, Container>();
  private next = 0;
  private destroyed = false;

  private constructor() {
    this.run = randomBytes(3).toString('hex');
    this.hub = `${NS_PREFIX}${this.run}-hub`;
    this.subnet = (parseInt(this.run.slice(0, 4), 16) % 250) + 1;
  }

  /** Creates the hub with its bridge and one namespace per name. */
  static create(names: string[] = []): Net {
    const net = new Net();
    mkdirSync(OWNERS, { recursive: true });
    writeFileSync(join(OWNERS, net.run), String(process.pid));
    liveNets.add(net);
    try {
      ip(['netns', 'add', net.hub]);
      ip(['-n', net.hub, 'link', 'set', 'lo', 'up']);
      ip(['-n', net.hub, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
      ip(['-n', net.hub, 'link', 'set', 'br0', 'up']);
      for (const n of names) net.add(n);
    } catch (e) {
      net.destroy();
      throw e;
    }
    return net;
  }

  /** Adds a container namespace on the bridge. */
  add(name: string): Container {
    if (this.destroyed) throw new Error('net destroyed');
    if (this.containers.has(name)) throw new Error(`container ${name} exists`);
    if (!/^[a-z0-9]{1,12}$/.test(name)) throw new Error(`bad container name ${name}`);
    const index = this.next++;
    if (index > 240) throw new Error('too many containers');
    const ns = `${NS_PREFIX}${this.run}-${name}`;
    const c: Container = { name, ns, ip: `10.77.${this.subnet}.${index + 1}`, index };
    ip(['netns', 'add', ns]);
    this.containers.set(name, c);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['-n', this.hub, 'link', 'add', `v${index}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    ip(['-n', this.hub, 'link', 'set', `v${index}`, 'master', 'br0']);
    ip(['-n', this.hub, 'link', 'set', `v${index}`, 'up']);
    ip(['-n', ns, 'addr', 'add', `${c.ip}/24`, 'dev', 'eth0']);
    ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    return c;
  }

  get(name: string): Container {
    const c = this.containers.get(name);
    if (!c) throw new Error(`no container ${name}`);
    return c;
  }

  /** Deletes every namespace of this run (killing what runs inside). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const c of this.containers.values()) deleteNamespace(c.ns);
    deleteNamespace(this.hub);
    // anything else of this run (a namespace added by hand)
    for (const ns of listNamespaces()) if (ns.startsWith(`${NS_PREFIX}${this.run}-`)) deleteNamespace(ns);
    rmSync(join(OWNERS, this.run), { force: true });
    liveNets.delete(this);
  }
}

/** Destroys every Net still alive (used by teardown hooks). */
export function destroyAllNets(): void {
  for (const n of [...liveNets]) n.destroy();
}

onExit(destroyAllNets);
