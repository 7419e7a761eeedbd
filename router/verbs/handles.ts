import { enomem } from '../errors.js';

const U32_MAX = 0xffff_ffff;

/**
 * One kind of per-session object (PDs, MRs, ...), keyed by a router-assigned
 * handle: non-zero (0 means "none" on the wire), u32, and not reused until
 * the counter wraps, so a stale handle from a buggy app finds nothing rather
 * than someone else's object.
 */
export class HandleTable<T> {
  private readonly items = new Map<number, T>();
  private next = 1;

  constructor(readonly kind: string) {}

  get size(): number {
    return this.items.size;
  }

  get(handle: number): T | undefined {
    return handle === 0 ? undefined : this.items.get(handle);
  }

  /** Reserves a handle; the object is stored with set() once it exists. */
  allocate(): number {
    if (this.items.size >= U32_MAX - 1) throw enomem(`no free ${this.kind} handle`);
    for (;;) {
      const h = this.next;
      this.next = h >= U32_MAX ? 1 : h + 1;
      if (!this.items.has(h)) return h;
    }
  }

  set(handle: number, value: T): void {
    this.items.set(handle, value);
  }

  delete(handle: number): boolean {
    return this.items.delete(handle);
  }

  values(): IterableIterator<T> {
    return this.items.values();
  }

  entries(): IterableIterator<[number, T]> {
    return this.items.entries();
  }

  clear(): void {
    this.items.clear();
  }
}
