// Reading provider JSON that sluice did not write and cannot trust: every helper answers
// instead of throwing, so a malformed event costs the log a field, never the exchange.

/** A plain JSON object, for reading untrusted provider events without throwing. */
export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses one event's data; undefined when it is not a JSON object (the event is then skipped). */
export function parseEventData(data: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(data);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Tool arguments streamed as JSON text: parsed when complete, kept as text when cut. */
export function parseToolArguments(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
