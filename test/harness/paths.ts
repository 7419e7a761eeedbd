// Where the build products live, and how the AddressSanitizer mode changes
// what the harness runs. Everything is relative to the repository root.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest directory above this module whose package.json is freeflow-ts
 * (so it is right from test/harness/*.ts under vitest and from dist/test/harness/*.js alike). */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'freeflow-ts') return dir;
    } catch { /* not here */ }
    const up = dirname(dir);
    if (up === dir) throw new Error(`freeflow-ts root not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

export const ROOT = findRoot();

/** FFR_ASAN=1: router under libasan, apps with the sanitizer build of the shim. */
export const ASAN = process.env.FFR_ASAN === '1' || process.env.FFR_ASAN === 'true';

export const PATHS = {
  routerMain: join(ROOT, 'dist', 'router', 'main.js'),
  ctlMain: join(ROOT, 'dist', 'router', 'ctl', 'main.js'),
  shim: join(ROOT, 'libshim', ASAN ? 'build-asan' : 'build', 'libffshim.so'),
  addon: join(ROOT, 'native', 'build', 'Release', 'ffr_native.node'),
  cBuild: join(ROOT, 'test', 'c', 'build'),
  verbsCheck: join(ROOT, 'test', 'c', 'build', 'verbs_check'),
  protoDump: join(ROOT, 'test', 'c', 'build', 'proto_dump'),
  quotaProbe: join(ROOT, 'test', 'c', 'build', 'quota_probe'),
  protoCodec: join(ROOT, 'test', 'c', 'build', 'proto_codec'),
};

let libasanCache: string | undefined;
/** Absolute path of gcc's libasan.so (what `gcc -print-file-name=libasan.so` prints). */
export function libasan(): string {
  if (libasanCache) return libasanCache;
  const p = execFileSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
  if (!p.startsWith('/') || !existsSync(p)) throw new Error(`libasan.so not found (gcc says ${JSON.stringify(p)})`);
  libasanCache = p;
  return p;
}

/** Directory where ASan writes its reports (log_path) in FFR_ASAN mode; .ci/run checks it is empty. */
export const ASAN_LOG_DIR = process.env.FFR_ASAN_LOG_DIR ?? '/tmp/ffr-asan-logs';

export function asanOptions(): string {
  return `detect_leaks=0:log_path=${join(ASAN_LOG_DIR, 'asan')}`;
}

/** The shim and addon sanitizer builds also carry UBSan: its reports go to the same directory. */
export function ubsanOptions(): string {
  return `print_stacktrace=1:log_path=${join(ASAN_LOG_DIR, 'ubsan')}`;
}

/** Environment for a process under the sanitizers (router or app). */
export function sanitizerEnv(): Record<string, string> {
  return { ASAN_OPTIONS: asanOptions(), UBSAN_OPTIONS: ubsanOptions() };
}

/** True if the native addon was built with the sanitizers (then node must run with libasan preloaded). */
export function addonNeedsAsan(): boolean {
  try {
    const out = execFileSync('readelf', ['-d', PATHS.addon], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return /NEEDED.*libasan/.test(out);
  } catch {
    return false;
  }
}

/** Throws a readable error if a build product the tests need is missing. */
export function requireProducts(...which: (keyof typeof PATHS)[]): void {
  const missing = which.filter((k) => !existsSync(PATHS[k])).map((k) => PATHS[k]);
  if (missing.length) {
    throw new Error(`missing build products (run \`npm run build\`${ASAN ? ' with the ASan builds' : ''}): ${missing.join(', ')}`);
  }
}
