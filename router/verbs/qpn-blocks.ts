import { enomem } from '../errors.js';
import type { Logger } from '../log.js';
import { QPN_BLOCK_SIZE } from '../registry/registry.js';

/** What the session code needs of a QPN source. */
export interface NumberSource {
  allocate(): number;
  free(n: number): void;
  has(n: number): boolean;
  readonly inUse: number;
}

/** Claim the next block while this many QPNs are still free: create_qp never waits on etcd. */
const LOW_WATER = QPN_BLOCK_SIZE / 4;

/**
 * QPNs from blocks this router owns in the cluster (docs/cluster.md), so a
 * QPN names one QP across every host. Allocation is synchronous from the
 * blocks in hand; a new block is claimed in the background when they run low.
 * Like NumberAllocator it walks forward, so a freed QPN is the last to return.
 */
export class QpnBlocks implements NumberSource {
  private readonly blocks: number[] = [];
  private readonly used = new Set<number>();
  private cursor = 0;  // index into the flattened owned space
  private claiming: Promise<void> | undefined;

  private constructor(
    private readonly claim: () => Promise<number>,
    private readonly log: Logger,
  ) {}

  static async open(claim: () => Promise<number>, log: Logger): Promise<QpnBlocks> {
    const q = new QpnBlocks(claim, log);
    await q.more();
    return q;
  }

  get inUse(): number {
    return this.used.size;
  }

  get owned(): readonly number[] {
    return this.blocks;
  }

  allocate(): number {
    const span = this.blocks.length * QPN_BLOCK_SIZE;
    if (span - this.used.size - this.reservedCount() < LOW_WATER) this.background();
    for (let i = 0; i < span; i++) {
      const k = (this.cursor + i) % span;
      const n = this.blocks[Math.floor(k / QPN_BLOCK_SIZE)]! * QPN_BLOCK_SIZE + (k % QPN_BLOCK_SIZE);
      if (n < 2 || this.used.has(n)) continue;  // QP0/QP1 of a real port
      this.used.add(n);
      this.cursor = (k + 1) % span;
      return n;
    }
    throw enomem('no free QPN in the blocks this router owns; a new block is being claimed from etcd, retry');
  }

  free(n: number): void {
    this.used.delete(n);
  }

  has(n: number): boolean {
    return this.used.has(n);
  }

  private reservedCount(): number {
    return this.blocks.includes(0) ? 2 : 0;
  }

  private background(): void {
    if (this.claiming) return;
    this.claiming = this.more()
      .catch((err: Error) => this.log.warn(`claiming a QPN block: ${err.message}`))
      .finally(() => {
        this.claiming = undefined;
      });
  }

  private async more(): Promise<void> {
    const b = await this.claim();
    if (!this.blocks.includes(b)) this.blocks.push(b);
    this.log.debug(`QPN block ${b} (QPNs ${b * QPN_BLOCK_SIZE}..${b * QPN_BLOCK_SIZE + QPN_BLOCK_SIZE - 1}) is ours`);
  }
}
