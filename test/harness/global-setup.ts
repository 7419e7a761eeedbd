// vitest globalSetup: remove leftovers of dead runs, build the C test
// programs (test/c/Makefile), and at the end remove what this run created.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cleanupStale, destroyAllNets } from './netns.js';
import { ASAN, ASAN_LOG_DIR, ROOT } from './paths.js';

export default function setup(): () => void {
  if (process.getuid?.() !== 0) throw new Error('the integration tests create network namespaces: run them as root');
  const removed = cleanupStale();
  if (removed.length) console.log(`[harness] removed stale namespaces: ${removed.join(' ')}`);
  execFileSync('make', ['-C', 'test/c', '-s'], { cwd: ROOT, stdio: 'inherit' });
  if (ASAN) {
    mkdirSync(ASAN_LOG_DIR, { recursive: true });
    console.log(`[harness] FFR_ASAN=1: reports go to ${ASAN_LOG_DIR}`);
  }
  return () => {
    destroyAllNets();
    cleanupStale();
  };
}
