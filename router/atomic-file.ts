import { open, readFile, rename, unlink } from 'node:fs/promises';
import { eio } from './errors.js';

/**
 * A state file rewritten whole on every change: written to a temporary
 * file, fsync'ed, then renamed over, so a crash leaves the old or the new
 * file, never half. Writes are serialized so the file always reflects the
 * last one; a failed write is reported to its caller and does not block the
 * next.
 */
export class AtomicFile {
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  /** The file's JSON value; undefined when there is no file. Throws a plain Error naming the file otherwise. */
  async readJson(): Promise<unknown> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`cannot read ${this.path}: ${(err as Error).message}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new Error(`${this.path} is not valid JSON (fix or remove it): ${(err as Error).message}`);
    }
  }

  write(text: string): Promise<void> {
    const run = this.writing.then(() => this.writeNow(text));
    this.writing = run.catch(() => undefined);
    return run;
  }

  /** Resolves when every write begun so far has ended. */
  flush(): Promise<void> {
    return this.writing;
  }

  private async writeNow(text: string): Promise<void> {
    const tmp = `${this.path}.tmp-${process.pid}`;
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw eio(`cannot write ${this.path}: ${(err as Error).message}`);
    }
  }
}
