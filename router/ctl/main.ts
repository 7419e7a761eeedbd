#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { QpView, RouterInfo, SessionView } from '../admin/server.js';
import type { PeerView } from '../cluster/peers.js';
import { shimLibraryPath } from '../paths.js';
import type { Container } from '../registry/registry.js';
import { AdminClient, AdminError } from './client.js';
import { formatTable } from './table.js';
import { POLICY_ARG_OPTIONS, POLICY_USAGE, policyCommand } from './policy-cmd.js';

const DEFAULT_ADMIN_SOCKET = '/run/ffrouter/admin.sock';

const USAGE = `usage: ffctl [--admin-socket PATH] [--json] COMMAND

  container add NAME --tenant T --vip IP --netns NS   register a container (NS: name under /run/netns or a path)
  container rm NAME                                   unregister it (closes its sessions)
  container ls                                        list containers
  sessions                                            list control sessions
  qps                                                 list queue pairs
  peers                                               list peer routers and their physical connections
  env NAME                                            print LD_PRELOAD and FFR_SOCKET for a container
  info                                                router paths and version
${POLICY_USAGE}
  --admin-socket PATH   default $FFR_ADMIN_SOCKET or ${DEFAULT_ADMIN_SOCKET}
  --json                machine-readable output
`;

class UsageError extends Error {}

async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      'admin-socket': { type: 'string' },
      json: { type: 'boolean' },
      tenant: { type: 'string' },
      vip: { type: 'string' },
      netns: { type: 'string' },
      ...POLICY_ARG_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(USAGE);
    if (!values.help) throw new UsageError('a command is required');
    return;
  }
  const client = new AdminClient(values['admin-socket'] ?? process.env['FFR_ADMIN_SOCKET'] ?? DEFAULT_ADMIN_SOCKET);
  const json = values.json === true;
  const out = (value: unknown, human: () => string): void => {
    process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : human());
  };
  const [cmd, sub, name] = positionals;
  const noMore = (n: number): void => {
    if (positionals.length > n) throw new UsageError(`unexpected argument "${positionals[n]}"`);
  };

  switch (cmd) {
    case 'tenant':
    case 'tenants': {
      noMore(3);
      if (await policyCommand(client, 'tenant', sub, name, values, out, (m) => new UsageError(m))) return;
      throw new UsageError(`unknown tenant command "${sub}"`);
    }
    case 'container':
    case 'containers': {
      noMore(3);
      if (await policyCommand(client, 'container', sub, name, values, out, (m) => new UsageError(m))) return;
      if (sub === 'add') {
        noMore(3);
        if (!name) throw new UsageError('container add NAME --tenant T --vip IP --netns NS');
        const missing = (['tenant', 'vip', 'netns'] as const).filter((k) => !values[k]);
        if (missing.length) throw new UsageError(`container add: missing ${missing.map((k) => `--${k}`).join(', ')}`);
        const c = await client.post<Container>('/containers', { name, tenant: values.tenant, vip: values.vip, netns: values.netns });
        out(c, () => `added ${c.name}: tenant ${c.tenant}, lid ${c.lid}, vip ${c.vip}, netns ${c.netns}\n`);
        return;
      }
      if (sub === 'rm' || sub === 'remove' || sub === 'del') {
        noMore(3);
        if (!name) throw new UsageError('container rm NAME');
        const c = await client.delete<Container>(`/containers/${encodeURIComponent(name)}`);
        out(c, () => `removed ${c.name}\n`);
        return;
      }
      if (sub === 'ls' || sub === 'list' || sub === undefined) {
        noMore(2);
        const list = await client.get<Container[]>('/containers');
        out(list, () =>
          formatTable(
            ['NAME', 'HOST', 'TENANT', 'LID', 'GID', 'VIP', 'NETNS', 'INODE'],
            list.map((c) => [c.name, c.host, c.tenant, c.lid, c.gid, c.vip, c.netns, c.netnsIno]),
          ),
        );
        return;
      }
      throw new UsageError(`unknown container command "${sub}"`);
    }
    case 'sessions': {
      noMore(1);
      const list = await client.get<SessionView[]>('/sessions');
      out(list, () =>
        formatTable(
          ['ID', 'PID', 'UID', 'CONTAINER', 'STATE', 'PD', 'MR', 'CQ', 'QP', 'SRQ', 'AH', 'REG_BYTES'],
          list.map((s) => [
            s.id || '-',
            s.pid,
            s.uid,
            s.container,
            s.state,
            s.objects['pd'],
            s.objects['mr'],
            s.objects['cq'],
            s.objects['qp'],
            s.objects['srq'],
            s.objects['ah'],
            s.registeredBytes,
          ]),
        ),
      );
      return;
    }
    case 'qps': {
      noMore(1);
      const list = await client.get<QpView[]>('/qps');
      out(list, () =>
        formatTable(
          ['CONTAINER', 'SESSION', 'QPN', 'TYPE', 'STATE', 'DEST_QPN', 'DLID'],
          list.map((q) => [q.container, q.session, `0x${q.qpn.toString(16)}`, q.type, q.state, q.destQpn ? `0x${q.destQpn.toString(16)}` : '-', q.dlid || '-']),
        ),
      );
      return;
    }
    case 'peers': {
      noMore(1);
      const list = await client.get<PeerView[]>('/peers');
      out(list, () =>
        formatTable(
          ['HOST', 'HOST_ID', 'ADDRESS', 'ROLE', 'CONNS', 'BYTES_OUT', 'BYTES_IN', 'FRAMES_OUT', 'FRAMES_IN', 'RECONNECTS', 'RETRANSMITS', 'LAST_ERROR'],
          list.map((p) => [
            p.host,
            p.hostId,
            p.address,
            p.dialer ? 'dial' : 'accept',
            `${p.connectionsUp}/${p.pool}`,
            p.bytesOut,
            p.bytesIn,
            p.framesOut,
            p.framesIn,
            p.disconnects,
            p.retransmits,
            p.lastError || '-',
          ]),
        ),
      );
      return;
    }
    case 'env': {
      if (!sub) throw new UsageError('env NAME');
      noMore(2);
      const [c, info] = await Promise.all([
        client.get<Container>(`/containers/${encodeURIComponent(sub)}`),
        client.get<RouterInfo>('/info'),
      ]);
      const shim = shimLibraryPath();
      if (!existsSync(shim)) process.stderr.write(`ffctl: warning: ${shim} does not exist yet (build it with \`npm run build:shim\`)\n`);
      out({ container: c.name, LD_PRELOAD: shim, FFR_SOCKET: info.socket }, () => `LD_PRELOAD=${shim}\nFFR_SOCKET=${info.socket}\n`);
      return;
    }
    case 'info': {
      noMore(1);
      const info = await client.get<RouterInfo>('/info');
      out(info, () =>
        formatTable(
          ['KEY', 'VALUE'],
          Object.entries(info).map(([k, v]) => [k, v]),
        ),
      );
      return;
    }
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

run(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: Error) => {
    if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`ffctl: ${err.message}\n(ffctl --help for usage)\n`);
      process.exit(2);
    }
    process.stderr.write(`ffctl: ${err instanceof AdminError ? `${err.message} (HTTP ${err.status})` : err.message}\n`);
    process.exit(1);
  },
);
