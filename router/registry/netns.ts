import { statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { einval } from '../errors.js';

export const NETNS_DIR = '/run/netns';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** `NAME` → /run/netns/NAME (what `ip netns add` creates); an absolute path stays. */
export function resolveNetnsPath(netns: string): string {
  if (isAbsolute(netns)) return netns;
  if (!NAME_RE.test(netns)) throw einval(`netns "${netns}" is neither an absolute path nor a name under ${NETNS_DIR}`);
  return join(NETNS_DIR, netns);
}

let nsfsDev: number | undefined;

/**
 * Inode of a namespace file, checking it is one: every namespace lives on
 * the single nsfs superblock, so its st_dev equals that of /proc/self/ns/net.
 * Throws EINVAL naming the path otherwise.
 */
export function netnsInode(path: string): number {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw einval(`netns ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  nsfsDev ??= statSync('/proc/self/ns/net').dev;
  if (st.dev !== nsfsDev) throw einval(`netns ${path} is not a namespace file (not on nsfs)`);
  return st.ino;
}

/** Inode of a process's network namespace, or undefined when it cannot be read (process gone). */
export function pidNetnsInode(pid: number): number | undefined {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino;
  } catch {
    return undefined;
  }
}

/** Same as netnsInode but undefined instead of an error (for lookups). */
export function tryNetnsInode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}
