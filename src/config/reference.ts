// The README's configuration reference, generated from schema.ts so it cannot drift from what
// the loader accepts. scripts/config-reference.ts writes it into README.md.

import type { KeySpec } from './read-table.ts';
import { SECTIONS } from './schema.ts';

export const REFERENCE_START = '<!-- config-reference:start -->';
export const REFERENCE_END = '<!-- config-reference:end -->';

/** Markdown: one table (key, type, default, meaning) per section of sluice.toml. */
export function generateConfigReference(): string {
  const parts = [
    '_Generated from `src/config/schema.ts` by `npx node scripts/config-reference.ts`; do not edit by hand._',
  ];
  for (const section of SECTIONS) {
    const rows = Object.entries(section.keys).map(
      ([name, spec]) => `| \`${name}\` | ${spec.type} | ${shownDefault(name, spec)} | ${cell(spec.doc)} |`,
    );
    parts.push(
      [`### ${heading(section.heading)}`, '', cell(section.doc), '', '| key | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n'),
    );
  }
  return `${parts.join('\n\n')}\n`;
}

/** Replaces what is between the markers; throws if they are missing. */
export function replaceReference(readme: string, reference: string): string {
  const start = readme.indexOf(REFERENCE_START);
  const end = readme.indexOf(REFERENCE_END);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`README.md has no ${REFERENCE_START} … ${REFERENCE_END} block`);
  }
  return `${readme.slice(0, start + REFERENCE_START.length)}\n${reference}${readme.slice(end)}`;
}

function shownDefault(name: string, spec: KeySpec<never> | KeySpec<unknown>): string {
  if (spec.required === true) return 'required';
  if (spec.shownDefault !== undefined) return cell(spec.shownDefault);
  const value: unknown = spec.default;
  if (value === undefined) return 'none';
  const literal = `\`${cell(JSON.stringify(value).replaceAll(',', ', '))}\``;
  if (typeof value !== 'number') return literal;
  if (name.endsWith('_ms')) return `${literal} (${humanDuration(value)})`;
  if (name.endsWith('_bytes')) return `${literal} (${humanSize(value)})`;
  return literal;
}

function humanDuration(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}

function humanSize(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/** TOML headers read as code; prose headings stay prose. */
function heading(text: string): string {
  return text.startsWith('[') ? `\`${text}\`` : text;
}

/** Table cells cannot hold "|" or newlines. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}
