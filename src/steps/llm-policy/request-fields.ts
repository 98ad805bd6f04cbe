// What an LLM request asks for, read the way the provider will read it: the model (JSON
// `model`, or Gemini's path segment) and the output-token limit under every name the providers
// accept. Read from any JSON request on an `llm` host, not only from the paths sluice
// recognises, so a path spelled differently cannot carry a model past the check. A top-level
// key that appears twice is refused: parsers disagree on which one wins.

import { decodePercent } from '../../http/percent-decode.ts';

/** Output-token limit fields, top level, by provider API. */
export const TOP_LEVEL_LIMITS = ['max_tokens', 'max_completion_tokens', 'max_output_tokens'] as const;

export interface LlmRequestFields {
  model: string | undefined;
  /** Each limit field present, with its value (null: present but not a number). */
  limits: Array<{ path: readonly string[]; value: number | null }>;
}

export type FieldsResult = { ok: true; fields: LlmRequestFields; json: Record<string, unknown> | undefined } | { ok: false; message: string };

/** The keys of the top-level JSON object, in order, with repeats (one linear pass). */
export function topLevelKeys(text: string): string[] | undefined {
  const keys: string[] = [];
  let i = 0;
  const n = text.length;
  const skipWs = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const readString = (): string | undefined => {
    // i at the opening quote
    let out = '';
    i++;
    while (i < n) {
      const c = text[i] as string;
      if (c === '"') {
        i++;
        return out;
      }
      if (c === '\\') {
        out += text.slice(i, i + 2);
        i += 2;
        continue;
      }
      out += c;
      i++;
    }
    return undefined;
  };
  skipWs();
  if (text[i] !== '{') return undefined;
  i++;
  let depth = 1;
  let expectKey = true;
  while (i < n && depth > 0) {
    const c = text[i] as string;
    if (c === '"') {
      const s = readString();
      if (s === undefined) return undefined;
      if (depth === 1 && expectKey) {
        keys.push(JSON.parse(`"${s}"`) as string);
        expectKey = false;
      }
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
    i++;
  }
  return keys;
}

function limitValue(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function readLlmRequest(body: Buffer | undefined, path: string, upgrade = false): FieldsResult {
  let model: string | undefined;
  // A realtime session (WebSocket) names its model in the query: ?model=gpt-realtime.
  if (upgrade) {
    const query = new URLSearchParams(path.split('?')[1] ?? '');
    if (query.getAll('model').length > 1) return { ok: false, message: 'the session names "model" twice' };
    model = query.get('model') ?? undefined;
  }
  // Gemini names the model in the path: /v1beta/models/MODEL:generateContent (percent-decoded
  // first, as the server will).
  const decoded = decodePercent(path.split('?')[0] ?? '');
  const at = decoded.indexOf('/models/');
  if (at >= 0 && decoded.indexOf('/models/', at + 1) >= 0) return { ok: false, message: 'the path names /models/ twice' };
  if (at >= 0) {
    const rest = decoded.slice(at + '/models/'.length);
    const end = rest.search(/[:/]/);
    const name = end < 0 ? rest : rest.slice(0, end);
    if (name !== '') model = name;
  }
  const limits: LlmRequestFields['limits'] = [];
  if (body === undefined || body.length === 0) return { ok: true, fields: { model, limits }, json: undefined };
  const text = body.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, message: 'the LLM request body is not JSON, so its model and token limit cannot be checked' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ok: true, fields: { model, limits }, json: undefined };
  const keys = topLevelKeys(text) ?? [];
  const seen = new Set<string>();
  // Compared without case: a case-insensitive parser (Go's encoding/json) reads "MODEL" as model.
  for (const k of keys.map((key) => key.toLowerCase())) {
    if (seen.has(k) && (k === 'model' || (TOP_LEVEL_LIMITS as readonly string[]).includes(k) || k === 'generationconfig' || k === 'generation_config')) {
      return { ok: false, message: `the LLM request names "${k}" twice` };
    }
    seen.add(k);
  }
  const obj = json as Record<string, unknown>;
  if (obj.model !== undefined) {
    if (typeof obj.model !== 'string') return { ok: false, message: 'the LLM request\'s "model" is not a string' };
    // A model in the body and another in the path: both are checked, the body's is reported.
    if (model !== undefined && model !== obj.model) return { ok: false, message: `the LLM request names model "${obj.model}" in its body and "${model}" in its path` };
    model = obj.model;
  }
  for (const name of TOP_LEVEL_LIMITS) if (name in obj) limits.push({ path: [name], value: limitValue(obj[name]) });
  for (const config of ['generationConfig', 'generation_config']) {
    const g = obj[config];
    if (typeof g !== 'object' || g === null) continue;
    const gc = g as Record<string, unknown>;
    for (const name of ['maxOutputTokens', 'max_output_tokens']) if (name in gc) limits.push({ path: [config, name], value: limitValue(gc[name]) });
  }
  return { ok: true, fields: { model, limits }, json: obj };
}
