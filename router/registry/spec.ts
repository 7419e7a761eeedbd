import { isIP } from 'node:net';
import { FFR_STR_MAX } from '../../proto/gen/ffproto.js';
import { einval } from '../errors.js';
import { netnsInode, resolveNetnsPath } from './netns.js';
import type { ContainerSpec } from './registry.js';

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Unicast LIDs are 1..0xbfff; above is multicast and the permissive LID. */
export const LID_MAX = 0xbfff;
/** node_guid keeps 24 bits for the tenant (design.md "Device"). */
export const TENANT_ID_MAX = 0xff_ffff;
/** Host ids are u32 on the peer wire (HELLO). */
export const HOST_ID_MAX = 0xffff_ffff;

export function checkName(what: string, v: unknown): string {
  if (typeof v !== 'string' || !NAME_RE.test(v) || Buffer.byteLength(v) >= FFR_STR_MAX) {
    throw einval(`${what} must be 1..${FFR_STR_MAX - 1} characters of [A-Za-z0-9_.-] starting with a letter or digit, got ${JSON.stringify(v)}`);
  }
  return v;
}

export interface CheckedSpec {
  name: string;
  tenant: string;
  vip: string;
  /** Resolved to an absolute path. */
  netns: string;
  netnsIno: number;
}

/** Validates what an operator supplied and stats the namespace (which must exist on this host). */
export function checkSpec(spec: ContainerSpec): CheckedSpec {
  if (typeof spec !== 'object' || spec === null) throw einval('expected {name, tenant, vip, netns}');
  const name = checkName('name', spec.name);
  const tenant = checkName('tenant', spec.tenant);
  if (typeof spec.vip !== 'string' || isIP(spec.vip) === 0) throw einval(`vip must be an IPv4 or IPv6 address, got ${JSON.stringify(spec.vip)}`);
  if (typeof spec.netns !== 'string' || spec.netns === '') throw einval('netns is required (a name under /run/netns or an absolute path)');
  const netns = resolveNetnsPath(spec.netns);
  const netnsIno = netnsInode(netns);
  return { name, tenant, vip: spec.vip, netns, netnsIno };
}
