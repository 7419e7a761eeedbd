import { tryNetnsInode } from './netns.js';
import type { Container } from './registry.js';

/**
 * The container of `hostName` whose namespace has inode `ino` now. Paths
 * are re-stat'ed (and the cached inode refreshed): a namespace path can be
 * re-created by a container restart, and the inode of a vanished namespace
 * reused by a new one. Namespaces are per host, so other hosts' containers
 * never match. Returns a copy.
 */
export function findLocalByNetnsIno(containers: Iterable<Container>, hostName: string, ino: number): Container | undefined {
  for (const c of containers) {
    if (c.host !== hostName) continue;
    const now = tryNetnsInode(c.netns);
    if (now === undefined) continue;
    c.netnsIno = now;
    if (now === ino) return { ...c };
  }
  return undefined;
}

/** The container with this LID in this tenant (a copy). */
export function findByTenantLid(containers: Iterable<Container>, tenantId: number, lid: number): Container | undefined {
  for (const c of containers) if (c.tenantId === tenantId && c.lid === lid) return { ...c };
  return undefined;
}
