import { FfrErr } from '../proto/gen/ffproto.js';

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(FfrErr).map(([name, value]) => [value, name.replace(/^FFR_/, '')]),
);

/** `EINVAL` for 22, `errno 200` for a number the schema does not name. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

/**
 * The one error family of the router. `errno` is what goes on the wire (a
 * Linux errno value from `FfrErr`); the message is for the log line only,
 * because the wire carries no text.
 */
export class RouterError extends Error {
  constructor(
    public readonly errno: FfrErr,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RouterError';
  }

  override toString(): string {
    return `${errnoName(this.errno)}: ${this.message}`;
  }
}

export const einval = (msg: string): RouterError => new RouterError(FfrErr.FFR_EINVAL, msg);
export const eproto = (msg: string): RouterError => new RouterError(FfrErr.FFR_EPROTO, msg);
export const enoent = (msg: string): RouterError => new RouterError(FfrErr.FFR_ENOENT, msg);
export const ebusy = (msg: string): RouterError => new RouterError(FfrErr.FFR_EBUSY, msg);
export const eacces = (msg: string): RouterError => new RouterError(FfrErr.FFR_EACCES, msg);
export const enomem = (msg: string): RouterError => new RouterError(FfrErr.FFR_ENOMEM, msg);
export const edquot = (msg: string): RouterError => new RouterError(FfrErr.FFR_EDQUOT, msg);
export const ebadf = (msg: string): RouterError => new RouterError(FfrErr.FFR_EBADF, msg);
export const eexist = (msg: string): RouterError => new RouterError(FfrErr.FFR_EEXIST, msg);
export const eopnotsupp = (msg: string): RouterError => new RouterError(FfrErr.FFR_EOPNOTSUPP, msg);
export const enosys = (msg: string): RouterError => new RouterError(FfrErr.FFR_ENOSYS, msg);
export const eio = (msg: string): RouterError => new RouterError(FfrErr.FFR_EIO, msg);
export const eagain = (msg: string): RouterError => new RouterError(FfrErr.FFR_EAGAIN, msg);
export const eperm = (msg: string): RouterError => new RouterError(FfrErr.FFR_EPERM, msg);
export const ehostunreach = (msg: string): RouterError => new RouterError(FfrErr.FFR_EHOSTUNREACH, msg);

const KNOWN_ERRNOS: ReadonlySet<number> = new Set(Object.values(FfrErr));

/**
 * Converts anything thrown into a RouterError. Native addon errors carry a
 * numeric `errno` (positive, or negative in the kernel style); an errno the
 * wire does not name, or an error without one (a bug), becomes EIO so the
 * application still sees a failure rather than a bogus status.
 */
export function toRouterError(err: unknown, context: string): RouterError {
  if (err instanceof RouterError) return err;
  const raw = (err as { errno?: unknown } | null)?.errno;
  const msg = err instanceof Error ? err.message : String(err);
  if (typeof raw === 'number' && Number.isInteger(raw)) {
    const errno = Math.abs(raw);
    if (KNOWN_ERRNOS.has(errno) && errno !== 0) {
      return new RouterError(errno as FfrErr, `${context}: ${msg}`, { cause: err });
    }
    return new RouterError(FfrErr.FFR_EIO, `${context}: ${msg} (errno ${raw})`, { cause: err });
  }
  return new RouterError(FfrErr.FFR_EIO, `${context}: ${msg}`, { cause: err });
}
