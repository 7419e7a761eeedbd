import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/**
 * The install root (the directory holding freeflow-ts's package.json). Found
 * by walking up from this module, so it works from `dist/router/*.js`, from
 * `router/*.ts` under vitest, and from an npm install alike.
 */
export function repoRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const name = (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name;
        if (name === 'freeflow-ts') return (cachedRoot = dir);
      } catch {
        // An unreadable package.json is not ours; keep walking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the freeflow-ts install root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** The native addon; `FFR_NATIVE` overrides it (e.g. a sanitizer build elsewhere). */
export function nativeAddonPath(): string {
  return process.env['FFR_NATIVE'] ?? join(repoRoot(), 'native', 'build', 'Release', 'ffr_native.node');
}

/** The preloadable shim that `ffctl env` prints. */
export function shimLibraryPath(): string {
  return join(repoRoot(), 'libshim', 'build', 'libffshim.so');
}

/** The version in the install's package.json, for --version and GET /info. */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
