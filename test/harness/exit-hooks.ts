// Cleanup at process exit for the harness modules. vitest evaluates them
// afresh for every test file in the same worker process, so a module-level
// process.on('exit') would add one more listener per file (and node warns
// past ten): one listener per process runs every hook registered.
type Hook = () => void;
const KEY = Symbol.for('freeflow-ts.test.exitHooks');
const registry = globalThis as typeof globalThis & { [KEY]?: Set<Hook> };

/** Runs fn when the process exits; a throwing hook does not stop the others. */
export function onExit(fn: Hook): void {
  let hooks = registry[KEY];
  if (hooks === undefined) {
    const all = new Set<Hook>();
    hooks = registry[KEY] = all;
    process.on('exit', () => {
      for (const h of all) {
        try { h(); } catch { /* best effort: the others still run */ }
      }
    });
  }
  hooks.add(fn);
}
