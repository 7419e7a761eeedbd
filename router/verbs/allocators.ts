import { enomem } from '../errors.js';

const QPN_MAX = 0xff_ffff;
/** QP0 and QP1 are the SMI and GSI QPs on a real port; never hand them out. */
const QPN_FIRST = 2;

/**
 * Router-wide 24-bit numbers (QPNs, SRQNs). Allocation walks forward from the
 * last one handed out, so a number just freed is the last to come back: a
 * peer still holding an old dest_qp_num meets nothing rather than a stranger.
 */
export class NumberAllocator {
  private readonly used = new Set<number>();
  private next: number;

  constructor(
    private readonly kind: string,
    private readonly first = QPN_FIRST,
    private readonly last = QPN_MAX,
  ) {
    this.next = first;
  }

  get inUse(): number {
    return this.used.size;
  }

  allocate(): number {
    const span = this.last - this.first + 1;
    if (this.used.size >= span) throw enomem(`no free ${this.kind}`);
    for (;;) {
      const n = this.next;
      this.next = n >= this.last ? this.first : n + 1;
      if (!this.used.has(n)) {
        this.used.add(n);
        return n;
      }
    }
  }

  has(n: number): boolean {
    return this.used.has(n);
  }

  free(n: number): void {
    this.used.delete(n);
  }
}

const KEY_INDEX_MAX = 0xff_ffff;

/**
 * MR keys, unique per router: `(index << 8) | generation` (design.md). An
 * index is reused only with the next generation, so a stale lkey/rkey of a
 * deregistered MR fails the data plane's lookup instead of hitting the new one.
 * Index 0 is never used so that no key is 0.
 */
export class MrKeyAllocator {
  private readonly freeQueue: number[] = [];
  private freeHead = 0;
  private readonly generation = new Map<number, number>();
  private readonly live = new Set<number>();
  private nextFresh = 1;

  get inUse(): number {
    return this.live.size;
  }

  allocate(): number {
    let index: number;
    if (this.freeHead < this.freeQueue.length) {
      index = this.freeQueue[this.freeHead++]!;
      if (this.freeHead > 1024 && this.freeHead * 2 > this.freeQueue.length) {
        this.freeQueue.splice(0, this.freeHead);
        this.freeHead = 0;
      }
    } else {
      if (this.nextFresh > KEY_INDEX_MAX) throw enomem('no free MR key');
      index = this.nextFresh++;
    }
    const gen = ((this.generation.get(index) ?? -1) + 1) & 0xff;
    this.generation.set(index, gen);
    const key = ((index << 8) | gen) >>> 0;
    this.live.add(key);
    return key;
  }

  release(key: number): void {
    if (!this.live.delete(key)) return;
    // FIFO reuse: the longer an index rests, the older the keys that could still be in flight.
    this.freeQueue.push(key >>> 8);
  }
}
