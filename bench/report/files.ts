/** Writing a results directory: results.json, report.md and the charts it links, side by side. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderReport } from './markdown.js';
import type { ResultsDocument } from './schema.js';

export function writeResults(dir: string, doc: ResultsDocument): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'results.json');
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

/** report.md plus one .svg per chart; returns the report's path. */
export function writeReport(dir: string, doc: ResultsDocument): string {
  mkdirSync(dir, { recursive: true });
  const { markdown, charts } = renderReport(doc);
  for (const c of charts) writeFileSync(join(dir, c.fileName), c.svg);
  const file = join(dir, 'report.md');
  writeFileSync(file, markdown);
  return file;
}
