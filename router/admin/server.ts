import type { PeerView } from '../cluster/peers.js';
import { chmodSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { FfrErr } from '../../proto/gen/ffproto.js';
import { RouterError, errnoName, toRouterError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Container, ContainerSpec, Registry } from '../registry/registry.js';
import { prepareSocketPath, unlinkQuietly } from '../sockets.js';
import type { Usage } from '../policy/guard.js';
import type { Policy, PolicyScope } from '../policy/policy.js';
import type { Quotas } from '../policy/quotas.js';
import type { PolicyStore } from '../policy/store.js';

/** GET /info: what ffctl needs to print `env` and to say where things are. */
export interface RouterInfo {
  version: string;
  state: string;
  socket: string;
  adminSocket: string;
  metrics: string | null;
  stateDir: string;
  pid: number;
  /** This router's name and id in the cluster. */
  host: string;
  hostId: number;
  /** "etcd" (with the endpoints) or "embedded". */
  registry: string;
  /** Whether the registry's backing store answers. */
  registryHealthy: boolean;
}

export interface SessionView {
  id: number;
  conn: number;
  pid: number;
  uid: number;
  container: string | null;
  tenant: string | null;
  state: string;
  openedAt: string;
  requests: number;
  objects: Record<string, number>;
  registeredBytes: string;
}

export interface QpView {
  container: string;
  session: number;
  pid: number;
  qpn: number;
  type: string;
  state: string;
  destQpn: number;
  dlid: number;
  isGlobal: boolean;
}

/** A tenant's or container's policy as `ffctl tenant show` prints it. */
export interface PolicyView {
  scope: PolicyScope;
  name: string;
  /** The effective policy (config file, with stored changes over it). */
  policy: Policy;
  /** The limits that apply: a container's own (policy over the router's defaults), a tenant's (set ones only). */
  limits: Partial<Quotas>;
  /** What it holds now over its live sessions on this host. */
  usage: Usage;
  /** Containers of this host in it (tenant), or the tenant it is in ("" if not registered here). */
  members: string[];
}

/** What the admin API reads and changes; the Router implements it. */
export interface AdminBackend {
  info(): RouterInfo;
  registry: Registry;
  policies: PolicyStore;
  policyView(scope: PolicyScope, name: string): PolicyView;
  /** Tenants with a container on this host or a policy. */
  tenantNames(): string[];
  sessions(): SessionView[];
  qps(): QpView[];
  peerList(): PeerView[];
}

const MAX_BODY = 64 * 1024;

const HTTP_STATUS: Partial<Record<number, number>> = {
  [FfrErr.FFR_EINVAL]: 400,
  [FfrErr.FFR_EPROTO]: 400,
  [FfrErr.FFR_ENOENT]: 404,
  [FfrErr.FFR_EEXIST]: 409,
  [FfrErr.FFR_EBUSY]: 409,
  [FfrErr.FFR_ENOMEM]: 507,
  [FfrErr.FFR_EPERM]: 403,
  [FfrErr.FFR_EAGAIN]: 503,
  [FfrErr.FFR_EOPNOTSUPP]: 501,
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The operator's API: HTTP/JSON on a Unix socket of mode 0600, so only root
 * (or the router's user) can register containers, which is what grants a
 * network namespace its virtual device.
 */
export class AdminServer {
  private server: Server | undefined;

  constructor(
    private readonly backend: AdminBackend,
    private readonly log: Logger,
  ) {}

  async listen(path: string): Promise<void> {
    await prepareSocketPath(path);
    const server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => this.fail(res, req, err));
    });
    this.server = server;
    // Bind with a umask that already yields 0600: no window in which the socket is open to all.
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(old);
    }
    chmodSync(path, 0o600);
  }

  async close(path: string): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    unlinkQuietly(path);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://ffrouter');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const [top, name, ...rest] = parts;
    if (top === 'containers' && name !== undefined && rest.length === 1 && rest[0] === 'policy') {
      return this.policyRoute(req, res, 'container', name, method);
    }
    if (rest.length) throw new HttpError(404, `no route ${url.pathname}`);
    if (top === 'tenants') {
      if (name === undefined && method === 'GET') return this.json(res, 200, this.backend.tenantNames().map((t) => this.backend.policyView('tenant', t)));
      if (name !== undefined) return this.policyRoute(req, res, 'tenant', name, method);
      throw new HttpError(405, `${method} not allowed on ${url.pathname}`);
    }

    if (top === 'info' && name === undefined && method === 'GET') return this.json(res, 200, this.backend.info());
    if (top === 'sessions' && name === undefined && method === 'GET') return this.json(res, 200, this.backend.sessions());
    if (top === 'qps' && name === undefined && method === 'GET') return this.json(res, 200, this.backend.qps());
    if (top === 'peers' && name === undefined && method === 'GET') return this.json(res, 200, this.backend.peerList());
    if (top === 'containers') {
      const reg = this.backend.registry;
      if (name === undefined && method === 'GET') return this.json(res, 200, reg.list());
      if (name === undefined && method === 'POST') {
        const body = await readJson(req);
        const c = await reg.add(body as ContainerSpec);
        return this.json(res, 201, c);
      }
      if (name !== undefined && method === 'GET') {
        const c = reg.get(name);
        if (!c) throw new HttpError(404, `no container ${name}`);
        return this.json(res, 200, c);
      }
      if (method === 'DELETE') {
        const target = name ?? url.searchParams.get('name');
        if (!target) throw new HttpError(400, 'DELETE /containers/NAME');
        const c: Container = await reg.remove(target);
        return this.json(res, 200, c);
      }
      throw new HttpError(405, `${method} not allowed on ${url.pathname}`);
    }
    throw new HttpError(404, `no route ${method} ${url.pathname}`);
  }

  /** GET shows, PATCH changes (fields as values, null to clear), DELETE drops the stored policy. */
  private async policyRoute(req: IncomingMessage, res: ServerResponse, scope: PolicyScope, name: string, method: string): Promise<void> {
    const store = this.backend.policies;
    if (method === 'GET') return this.json(res, 200, this.backend.policyView(scope, name));
    if (method === 'PATCH' || method === 'PUT') {
      await store.set(scope, name, await readJson(req));
      return this.json(res, 200, this.backend.policyView(scope, name));
    }
    if (method === 'DELETE') {
      await store.remove(scope, name);
      return this.json(res, 200, this.backend.policyView(scope, name));
    }
    throw new HttpError(405, `${method} not allowed on a policy`);
  }

  private json(res: ServerResponse, status: number, value: unknown): void {
    const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n';
    res.writeHead(status, { 'content-type': 'application/json' }).end(text);
  }

  private fail(res: ServerResponse, req: IncomingMessage, err: unknown): void {
    let status: number;
    let message: string;
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
    } else {
      const re = err instanceof RouterError ? err : toRouterError(err, 'admin');
      status = HTTP_STATUS[re.errno] ?? 500;
      message = re.message;
      if (status === 500) this.log.error(`admin ${req.method} ${req.url}: ${errnoName(re.errno)}: ${re.message}`);
    }
    if (status < 500) this.log.info(`admin ${req.method} ${req.url}: ${status} ${message}`);
    if (!res.headersSent) this.json(res, status, { error: message });
    else res.end();
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `body larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
    return v;
  } catch (err) {
    throw new HttpError(400, `bad JSON body: ${(err as Error).message}`);
  }
}
