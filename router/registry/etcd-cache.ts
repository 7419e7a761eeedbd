// A map of etcd keys to decoded values that applies each change at most once
// and never goes back in time. Three sources feed it, in no common order:
// this router's own writes (applied as soon as etcd answers, so a caller
// reads its own write), the watch stream (which later repeats them), and a
// full re-read after a reconnect. Ordering them by mod revision, with
// tombstones for deleted keys, makes the result the same whatever arrives
// first.

interface Entry<T> {
  value: T;
  /** The value as stored in etcd: equal text means nothing changed. */
  raw: string;
  rev: number;
}

/** A visible change: `prev` went away (or was replaced), `next` arrived. */
export interface Change<T> {
  prev?: T;
  next?: T;
}

export class RevCache<T> {
  private readonly live = new Map<string, Entry<T>>();
  /** Deleted keys and the revision of their deletion. */
  private readonly dead = new Map<string, number>();

  get size(): number {
    return this.live.size;
  }

  get(key: string): T | undefined {
    return this.live.get(key)?.value;
  }

  /** Mod revision of a live key. */
  rev(key: string): number | undefined {
    return this.live.get(key)?.rev;
  }

  keys(): string[] {
    return [...this.live.keys()];
  }

  values(): T[] {
    return [...this.live.values()].map((e) => e.value);
  }

  private known(key: string): number | undefined {
    return this.live.get(key)?.rev ?? this.dead.get(key);
  }

  /** Undefined when the put is stale or changes nothing. */
  put(key: string, value: T, raw: string, rev: number): Change<T> | undefined {
    const known = this.known(key);
    if (known !== undefined && known >= rev) return undefined;
    this.dead.delete(key);
    const prev = this.live.get(key);
    this.live.set(key, { value, raw, rev });
    if (prev !== undefined && prev.raw === raw) return undefined;
    return { prev: prev?.value, next: value };
  }

  /** The removed value; undefined when the delete is stale or the key was not there. */
  delete(key: string, rev: number): T | undefined {
    const known = this.known(key);
    if (known !== undefined && known >= rev) return undefined;
    const prev = this.live.get(key);
    this.live.delete(key);
    this.dead.set(key, rev);
    return prev?.value;
  }

  /**
   * Forgets tombstones at or below `rev`: once the watch (or a re-read) has
   * delivered everything up to it, no older event for those keys can come.
   */
  prune(rev: number): void {
    for (const [key, r] of this.dead) if (r <= rev) this.dead.delete(key);
  }
}
