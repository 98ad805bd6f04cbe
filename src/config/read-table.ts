// The generic half of validation: reading one TOML table against a declarative key list
// (schema.ts). Unknown keys, wrong types, missing required keys and defaults are handled here
// once, so every table reports them the same way and a new table needs only its key list.

import { joinKey } from './locate.ts';

/** Returned by a key's parser after it has reported why the value is not acceptable. */
export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;

/** Where a value sits and where its problems go. */
export interface Reporter {
  /** Key path of the value being read, e.g. `allow[1].methods`. */
  readonly key: string;
  /** Folder of the config file; relative paths resolve against it. */
  readonly baseDir: string;
  /** Records a problem; `key` defaults to this reporter's key. */
  report(message: string, key?: string): void;
  /** A reporter for a value below this one. */
  at(key: string): Reporter;
}

export interface RawIssue {
  key: string;
  message: string;
}

export function createReporter(key: string, baseDir: string, issues: RawIssue[]): Reporter {
  return {
    key,
    baseDir,
    report: (message, at = key) => {
      issues.push({ key: at, message });
    },
    at: (child) => createReporter(child, baseDir, issues),
  };
}

/** One key of a table: its documentation and how its value is checked. */
export interface KeySpec<T = unknown> {
  /** The TOML type as a reader would say it: "integer", "string", "array of strings". */
  type: string;
  /** One line for the generated reference. */
  doc: string;
  /** Value used when the key is absent. Leave the property out for required keys. */
  default?: T;
  required?: boolean;
  /** A sample assignment shown when a required key is missing: `host = "api.example.com"`. */
  example?: string;
  /** Default as printed in the reference, when JSON of `default` would not read well. */
  shownDefault?: string;
  /** Checks the value read from TOML and returns it normalised, or reports and returns INVALID. */
  parse(value: unknown, at: Reporter): T | Invalid;
}

export type KeySpecs = Record<string, KeySpec<never> | KeySpec<unknown>>;

type ValueOf<S> =
  | (S extends { parse(value: unknown, at: Reporter): infer T } ? Exclude<T, Invalid> : never)
  | (S extends { default: infer D } ? D : never);

export type TableValues<S extends KeySpecs> = { -readonly [K in keyof S]: ValueOf<S[K]> };

export interface TableResult<S extends KeySpecs> {
  values: TableValues<S>;
  /** Keys whose value was present but rejected (cross-checks skip them). */
  failed: ReadonlySet<keyof S & string>;
}

/** How to word unknown keys: the table's name and an optional hint for a specific key. */
export interface TableWording {
  /** e.g. "[proxy]", "[[allow]]", "a secret source". */
  label: string;
  hint?: (name: string) => string | undefined;
}

/** Human wording for a value's TOML type: "a string", "an integer", "a table", … */
export function describeType(value: unknown): string {
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a float';
  if (typeof value === 'bigint') return 'an integer';
  if (value instanceof Date) return 'a date';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'a table';
  return typeof value;
}

/** True for a TOML table (smol-toml gives plain objects; dates are Date instances). */
export function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Reads `raw` against `keys`: unknown keys, types, required keys and defaults. */
export function readTable<S extends KeySpecs>(
  raw: Record<string, unknown>,
  keys: S,
  at: Reporter,
  wording: TableWording,
): TableResult<S> {
  const values: Record<string, unknown> = {};
  const failed = new Set<keyof S & string>();
  const valid = Object.keys(keys);
  for (const name of Object.keys(raw)) {
    if (Object.hasOwn(keys, name)) continue;
    at.report(unknownKeyMessage(name, valid, wording), joinKey(at.key, name));
  }
  for (const [name, spec] of Object.entries(keys)) {
    const key = joinKey(at.key, name);
    if (!Object.hasOwn(raw, name)) {
      if (spec.required === true) {
        const example = spec.example === undefined ? '' : `, e.g. ${spec.example}`;
        at.report(`required key is missing from ${wording.label}; add ${name} (${spec.type})${example}`, key);
      }
      values[name] = spec.default;
      continue;
    }
    const parsed = spec.parse(raw[name], at.at(key));
    if (parsed === INVALID) {
      failed.add(name);
      values[name] = spec.default;
    } else {
      values[name] = parsed;
    }
  }
  return { values: values as TableValues<S>, failed };
}

function unknownKeyMessage(name: string, valid: readonly string[], wording: TableWording): string {
  const hint = wording.hint?.(name);
  const near = hint === undefined ? closest(name, valid) : undefined;
  const suggestion = hint ?? (near === undefined ? '' : ` (did you mean "${near}"?)`);
  return `unknown key${suggestion}; valid keys in ${wording.label}: ${valid.join(', ')}`;
}

/** The nearest valid key, if close enough to be a typo (1 edit for short names, 2 otherwise). */
function closest(name: string, valid: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = lower.length <= 4 ? 2 : 3;
  for (const candidate of valid) {
    const d = editDistance(lower, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: Levenshtein plus swapping two neighbours ("fiel"). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => rows[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      row[j] = best;
    }
  }
  return at(a.length, b.length);
}
