// Bodies kept as text, bounded: the fallback for anything on an `llm` host that is not a
// known API call (model lists, token counting, a new endpoint), and the collector for JSON
// bodies, which can only be parsed once complete.
import { TextBudget } from './assembler.ts';

export class BoundedText {
  readonly #budget: TextBudget;
  readonly #parts: string[] = [];

  constructor(maxChars: number) {
    this.#budget = new TextBudget(maxChars);
  }

  get truncated(): boolean {
    return this.#budget.truncated;
  }

  push(text: string): void {
    if (this.#budget.truncated) return;
    const kept = this.#budget.fit(text);
    if (kept.length > 0) this.#parts.push(kept);
  }

  text(): string {
    return this.#parts.join('');
  }
}

/**
 * A body as the log holds it: parsed JSON when it is complete JSON, otherwise the text
 * (a cut body cannot be parsed; an empty body is null).
 */
export function bodyForLog(text: string, truncated: boolean): unknown {
  if (text === '') return null;
  if (!truncated) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // Not JSON: keep the text.
    }
  }
  return text;
}
