import type { Policy, SchedClass } from './policy.js';
import { TargetSync } from './target-sync.js';

interface Sched {
  weight: number;
  class: SchedClass | undefined;
}

/** The native scheduler's codes (native/src/sched.h). */
const CLASS_CODES: Readonly<Record<SchedClass, number>> = { default: 0, latency: 1, bulk: 2 };

/** The data plane's scheduler weights and classes (docs/isolation.md, "Scheduler"), kept equal to the policies. */
export class SchedWeights extends TargetSync<Sched> {
  protected want(p: Policy): Sched | undefined {
    if (p.weight === undefined && p.class === undefined) return undefined;
    return { weight: p.weight ?? 1, class: p.class };
  }

  protected push(tenant: number, lid: number, v: Sched | undefined): void {
    const cls = v?.class === undefined ? {} : { cls: CLASS_CODES[v.class] };
    this.dataPlane.setSched(tenant, lid, { weight: v?.weight ?? 1, ...cls });
  }

  protected same(a: Sched, b: Sched): boolean {
    return a.weight === b.weight && a.class === b.class;
  }

  protected describe(v: Sched | undefined): string {
    return v === undefined ? 'weight 1, class inherited' : `weight ${v.weight}, class ${v.class ?? 'inherited'}`;
  }
}
