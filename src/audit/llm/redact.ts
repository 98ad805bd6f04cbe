// Redaction for llm.ndjson: no surrogate, minted token or real secret value may reach the log,
// whether the agent put it in a prompt, a credential swap put it in the body, or an upstream
// echoed it. The credential store (the one place that knows the values) does the replacing.
// Bodies are redacted after parsing (every string, keys included), so a value hidden behind
// JSON escapes is still caught, and after reassembly, so a value split across stream events
// is caught whole.
import type { Runtime } from '../../runtime/runtime.ts';

/** Redacts one piece of text bound for llm.ndjson. */
export function redactForLog(text: string, runtime: Runtime): string {
  return runtime.credentials.redact(text);
}

/** Redacts every string (and key) of a parsed JSON value; returns a new value. */
export function redactJson(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactJson(v, redact));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[redact(key)] = redactJson(v, redact);
    return out;
  }
  return value;
}
