import type { Policy } from './policy.js';
import { TargetSync } from './target-sync.js';

interface Caps {
  bytesPerS: number;
  wrsPerS: number;
}

/** The data plane's token buckets (docs/isolation.md, "Rate caps"), kept equal to the policies' rate and msgRate. */
export class RateCaps extends TargetSync<Caps> {
  protected want(p: Policy): Caps | undefined {
    if (p.rate === undefined && p.msgRate === undefined) return undefined;
    return { bytesPerS: p.rate ?? 0, wrsPerS: p.msgRate ?? 0 };
  }

  protected push(tenant: number, lid: number, v: Caps | undefined): void {
    this.dataPlane.setLimit(tenant, lid, v ?? { bytesPerS: 0, wrsPerS: 0 });
  }

  protected same(a: Caps, b: Caps): boolean {
    return a.bytesPerS === b.bytesPerS && a.wrsPerS === b.wrsPerS;
  }

  protected describe(v: Caps | undefined): string {
    return v === undefined ? 'no rate cap' : `rate cap ${v.bytesPerS || 'none'} B/s, ${v.wrsPerS || 'none'} WR/s`;
  }
}
