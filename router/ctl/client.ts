import { request } from 'node:http';

/** An admin API error: HTTP status plus the router's message. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Minimal JSON client for the admin API on a Unix socket. */
export class AdminClient {
  constructor(readonly socketPath: string) {}

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PATCH', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }

  private call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socketPath,
          path,
          method,
          headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let value: unknown;
            try {
              value = text ? JSON.parse(text) : undefined;
            } catch {
              value = undefined;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(value as T);
            else reject(new AdminError(status, (value as { error?: string } | undefined)?.error ?? `HTTP ${status}`));
          });
          res.on('error', reject);
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        const hint =
          err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
            ? ' (is ffrouter running? use --admin-socket or FFR_ADMIN_SOCKET)'
            : err.code === 'EACCES'
              ? ' (the admin socket is mode 0600: run as root)'
              : '';
        reject(new Error(`cannot reach the router at ${this.socketPath}: ${err.message}${hint}`));
      });
      req.end(payload);
    });
  }
}
