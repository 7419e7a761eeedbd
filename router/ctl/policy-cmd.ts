import type { PolicyView } from '../admin/server.js';
import { QUOTA_OF, QUOTA_RESOURCES } from '../policy/guard.js';
import { POLICY_FLAGS, POLICY_KEYS, type PolicyKey, type PolicyScope } from '../policy/policy.js';
import { BYTE_QUOTAS } from '../policy/quotas.js';
import { formatRate, formatSize } from '../policy/units.js';
import type { AdminClient } from './client.js';
import { formatTable } from './table.js';

/** parseArgs options for every policy field: all strings, checked by the router (one validator). */
export const POLICY_ARG_OPTIONS = Object.fromEntries(POLICY_KEYS.map((k) => [POLICY_FLAGS[k], { type: 'string' as const }]));

export const POLICY_USAGE = `
  tenant set NAME [FIELDS]                            set a tenant's policy fields (the rest stay)
  tenant show NAME | tenant ls | tenant rm NAME       show one with its quota use, list them, drop the stored policy
  container set NAME [FIELDS] | container show NAME   the same for one container (its limits nest in its tenant's)
  container unset NAME                                drop the container's stored policy

  FIELDS: --max-qp N --max-cq N --max-srq N --max-mr N --max-pd N --max-ah N --max-channel N
          --max-sessions N --max-cqe N --max-mr-bytes SIZE --max-ring-bytes SIZE (SIZE: 4G, 512MiB, bytes)
          --rate RATE --msg-rate N (RATE: 10Gbit, 500M/s, bytes/s; caps enforced per work request)
          --weight W (1-10000, share when contended) --class latency|default|bulk
          a value of "none" clears the field
`;

/** The fields given on the command line, as the PATCH body (none -> null). */
export function policyPatch(values: Record<string, unknown>): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const k of POLICY_KEYS) {
    const v = values[POLICY_FLAGS[k]];
    if (typeof v === 'string') out[k] = v === 'none' ? null : v;
  }
  return out;
}

function show(k: PolicyKey, v: unknown): string {
  if (typeof v !== 'number') return String(v);
  if (k === 'rate') return formatRate(v);
  if (BYTE_QUOTAS.has(k as never)) return `${formatSize(v)} (${v})`;
  return String(v);
}

export function formatPolicyView(v: PolicyView): string {
  const set = Object.entries(v.policy) as [PolicyKey, unknown][];
  const head =
    `${v.scope} ${v.name}` +
    (v.scope === 'tenant' ? `: containers here: ${v.members.join(', ') || '-'}` : v.members.length ? `: tenant ${v.members[0]}` : ': not registered here') +
    '\n' +
    (set.length ? set.map(([k, val]) => `  --${POLICY_FLAGS[k]} ${show(k, val)}`).join('\n') + '\n' : '  (no policy fields set)\n');
  const rows = QUOTA_RESOURCES.map((r) => {
    const key = QUOTA_OF[r];
    const lim = v.limits[key];
    return [r, `--${POLICY_FLAGS[key]}`, v.usage[r], lim ?? '-'];
  });
  return head + formatTable(['RESOURCE', 'FLAG', 'USED', 'LIMIT'], rows);
}

/** `ffctl tenant ...` and the policy part of `ffctl container ...`; false if `sub` is not a policy command. */
export async function policyCommand(
  client: AdminClient,
  scope: PolicyScope,
  sub: string | undefined,
  name: string | undefined,
  values: Record<string, unknown>,
  out: (value: unknown, human: () => string) => void,
  usage: (msg: string) => Error,
): Promise<boolean> {
  const path = (n: string): string => (scope === 'tenant' ? `/tenants/${encodeURIComponent(n)}` : `/containers/${encodeURIComponent(n)}/policy`);
  if (scope === 'tenant' && (sub === 'ls' || sub === 'list' || sub === undefined)) {
    const list = await client.get<PolicyView[]>('/tenants');
    out(list, () =>
      formatTable(
        ['TENANT', 'CONTAINERS', 'SESSIONS', 'QP', 'MR', 'REG_BYTES', 'POLICY'],
        list.map((t) => [
          t.name,
          t.members.length,
          t.usage.sessions,
          t.usage.qp,
          t.usage.mr,
          t.usage.registeredBytes,
          Object.entries(t.policy).map(([k, val]) => `${POLICY_FLAGS[k as PolicyKey]}=${show(k as PolicyKey, val)}`).join(' ') || '-',
        ]),
      ),
    );
    return true;
  }
  if (sub !== 'set' && sub !== 'show' && sub !== 'rm' && sub !== 'unset') return false;
  if (!name) throw usage(`${scope} ${sub} NAME`);
  if (scope === 'container' && sub === 'rm') return false;
  let view: PolicyView;
  if (sub === 'set') {
    const patch = policyPatch(values);
    if (Object.keys(patch).length === 0) throw usage(`${scope} set NAME: give at least one field (--max-qp N, ...)`);
    view = await client.patch<PolicyView>(path(name), patch);
  } else if (sub === 'show') {
    view = await client.get<PolicyView>(path(name));
  } else {
    view = await client.delete<PolicyView>(path(name));
  }
  out(view, () => formatPolicyView(view));
  return true;
}
