// Reads llm.ndjson back for people (`sluice logs`): the rotated files oldest first, then the
// current one, a line at a time; and follows the current file as lines are appended, across
// rotations. A half-written last line is left for the next read; a line that is not JSON is
// skipped (a crash mid-line must not hide everything after it).
import { closeSync, existsSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LLM_LOG_FILE } from './llm-log.ts';

export type LlmLine = Record<string, unknown>;

function parseLines(text: string): LlmLine[] {
  const out: LlmLine[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    try {
      const value: unknown = JSON.parse(raw);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) out.push(value as LlmLine);
    } catch {
      // A torn or foreign line: skip it.
    }
  }
  return out;
}

/** llm.ndjson.N … llm.ndjson.1, llm.ndjson: oldest first. */
export function llmLogFiles(logDir: string): string[] {
  if (!existsSync(logDir)) return [];
  const rotated = readdirSync(logDir)
    .map((name) => ({ name, n: name.startsWith(`${LLM_LOG_FILE}.`) ? Number(name.slice(LLM_LOG_FILE.length + 1)) : NaN }))
    .filter((f) => Number.isInteger(f.n) && f.n > 0)
    .sort((a, b) => b.n - a.n)
    .map((f) => join(logDir, f.name));
  const current = join(logDir, LLM_LOG_FILE);
  return existsSync(current) ? [...rotated, current] : rotated;
}

/** Every complete line of every file, oldest first. */
export async function readLlmLog(logDir: string): Promise<LlmLine[]> {
  const lines: LlmLine[] = [];
  for (const file of llmLogFiles(logDir)) {
    const text = await readFile(file, 'utf8');
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    lines.push(...parseLines(complete));
  }
  return lines;
}

/**
 * Calls `onLine` for each line appended to `path` from its current end, polling every
 * `intervalMs` until `signal` aborts. A rotation (the file replaced or shrunk) restarts at the
 * new file's beginning.
 */
export async function followLlmLog(path: string, onLine: (line: LlmLine) => void, signal: AbortSignal, intervalMs = 250): Promise<void> {
  let position = existsSync(path) ? statSync(path).size : 0;
  let inode = existsSync(path) ? statSync(path).ino : -1;
  let partial = '';
  const name = basename(path);
  while (!signal.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, intervalMs);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
    if (signal.aborted || !existsSync(join(dirname(path), name))) continue;
    const stat = statSync(path);
    if (stat.ino !== inode || stat.size < position) {
      inode = stat.ino;
      position = 0;
      partial = '';
    }
    if (stat.size === position) continue;
    const fd = openSync(path, 'r');
    try {
      const buffer = Buffer.alloc(stat.size - position);
      const read = readSync(fd, buffer, 0, buffer.length, position);
      position += read;
      const text = partial + buffer.subarray(0, read).toString('utf8');
      const cut = text.lastIndexOf('\n');
      partial = text.slice(cut + 1);
      for (const line of parseLines(text.slice(0, cut + 1))) onLine(line);
    } finally {
      closeSync(fd);
    }
  }
}
