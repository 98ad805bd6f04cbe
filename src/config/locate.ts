// smol-toml returns plain objects without positions, so error messages find their line by
// scanning the source once: table headers ([x], [[x]], [x.y]), dotted keys and key/value lines,
// skipping over strings, comments and multi-line arrays so their contents are never mistaken
// for keys. Key paths look like `allow[2].methods`, `credentials.aws.hosts`, `proxy.uid`.

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** Appends a table key to a path, quoting it when it is not a bare TOML key. */
export function joinKey(parent: string, name: string): string {
  const part = BARE_KEY.test(name) ? name : JSON.stringify(name);
  return parent === '' ? part : `${parent}.${part}`;
}

/** Appends an array index to a path: `allow` → `allow[2]`. */
export function joinIndex(parent: string, index: number): string {
  return `${parent}[${index}]`;
}

/** Splits `a."b.c"[2].d` into ['a', '"b.c"', '[2]', 'd'] (components keep their spelling). */
function splitKeyPath(path: string): string[] {
  const parts: string[] = [];
  let i = 0;
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      i++;
    } else if (c === '[') {
      const end = path.indexOf(']', i);
      const stop = end === -1 ? path.length : end + 1;
      parts.push(path.slice(i, stop));
      i = stop;
    } else if (c === '"') {
      let j = i + 1;
      while (j < path.length && path[j] !== '"') j += path[j] === '\\' ? 2 : 1;
      parts.push(path.slice(i, j + 1));
      i = j + 1;
    } else {
      let j = i;
      while (j < path.length && path[j] !== '.' && path[j] !== '[') j++;
      parts.push(path.slice(i, j));
      i = j;
    }
  }
  return parts;
}

function joinParts(parts: readonly string[]): string {
  let out = '';
  for (const part of parts) out += part.startsWith('[') || out === '' ? part : `.${part}`;
  return out;
}

export interface KeyIndex {
  /** Line of the key, else of its nearest enclosing table or key, else 1. */
  lineOf(path: string): number;
}

/** Scans TOML source once; lookups are then map hits. */
export function indexKeyLines(source: string): KeyIndex {
  const lines = new Map<string, number>();
  const record = (path: string, line: number): void => {
    if (path !== '' && !lines.has(path)) lines.set(path, line);
  };
  // Arrays of tables seen so far, by resolved path, with how many elements they have.
  const arrayCounts = new Map<string, number>();
  const resolve = (names: readonly string[], line: number): string => {
    let path = '';
    for (const name of names) {
      path = joinKey(path, name);
      record(path, line);
      const count = arrayCounts.get(path);
      if (count !== undefined) path = joinIndex(path, count - 1);
    }
    return path;
  };

  const scanner = new Scanner(source);
  let table = '';
  while (scanner.skipBlank()) {
    const line = scanner.line;
    if (scanner.peek() === '[') {
      const isArray = scanner.peek(1) === '[';
      scanner.advance(isArray ? 2 : 1);
      const names = scanner.readKey();
      scanner.skipLine();
      if (names.length === 0) continue;
      if (isArray) {
        const parent = resolve(names.slice(0, -1), line);
        const arrayPath = joinKey(parent, names[names.length - 1] ?? '');
        const count = arrayCounts.get(arrayPath) ?? 0;
        arrayCounts.set(arrayPath, count + 1);
        record(arrayPath, line);
        table = joinIndex(arrayPath, count);
        record(table, line);
      } else {
        table = resolve(names, line);
      }
    } else {
      const names = scanner.readKey();
      let path = table;
      for (const name of names) {
        path = joinKey(path, name);
        record(path, line);
      }
      scanner.skipValue();
    }
  }

  return {
    lineOf(path: string): number {
      const parts = splitKeyPath(path);
      for (let n = parts.length; n > 0; n--) {
        const line = lines.get(joinParts(parts.slice(0, n)));
        if (line !== undefined) return line;
      }
      return 1;
    },
  };
}

/** One-off lookup; build an index with indexKeyLines for many. */
export function locateKey(source: string, path: string): number {
  return indexKeyLines(source).lineOf(path);
}

/** Just enough of a TOML lexer to find where keys start. Every method makes progress. */
class Scanner {
  private readonly src: string;
  private pos = 0;
  line = 1;

  constructor(src: string) {
    this.src = src;
  }

  peek(offset = 0): string | undefined {
    return this.src[this.pos + offset];
  }

  advance(n: number): void {
    for (let i = 0; i < n && this.pos < this.src.length; i++) {
      if (this.src[this.pos] === '\n') this.line++;
      this.pos++;
    }
  }

  /** Skips whitespace, newlines and comments; false at end of input. */
  skipBlank(): boolean {
    while (this.pos < this.src.length) {
      const c = this.src[this.pos];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') this.advance(1);
      else if (c === '#') this.skipLine();
      else return true;
    }
    return false;
  }

  /** Skips to the start of the next line. */
  skipLine(): void {
    while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
    this.advance(1);
  }

  private skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }

  /** Reads a dotted key (bare or quoted parts) and the `=` after it, if any. */
  readKey(): string[] {
    const names: string[] = [];
    while (this.pos < this.src.length) {
      this.skipSpaces();
      const c = this.peek();
      if (c === '"' || c === "'") {
        names.push(this.readQuoted(c));
      } else {
        const start = this.pos;
        while (this.pos < this.src.length && /[A-Za-z0-9_-]/.test(this.src[this.pos] ?? '')) this.pos++;
        if (this.pos === start) break;
        names.push(this.src.slice(start, this.pos));
      }
      this.skipSpaces();
      if (this.peek() !== '.') break;
      this.pos++;
    }
    this.skipSpaces();
    if (this.peek() === '=') this.pos++;
    return names;
  }

  private readQuoted(quote: string): string {
    this.pos++;
    let out = '';
    while (this.pos < this.src.length && this.peek() !== quote && this.peek() !== '\n') {
      if (quote === '"' && this.peek() === '\\') {
        // Key strings rarely hold escapes; keep the escaped character, which is what matters
        // for matching ordinary names.
        this.pos++;
      }
      out += this.src[this.pos];
      this.pos++;
    }
    if (this.peek() === quote) this.pos++;
    return out;
  }

  /** Skips a value, including multi-line arrays, inline tables and strings, to its line end. */
  skipValue(): void {
    let depth = 0;
    while (this.pos < this.src.length) {
      const c = this.src[this.pos];
      if (c === '\n') {
        if (depth === 0) return this.advance(1);
        this.advance(1);
      } else if (c === '#') {
        while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
      } else if (c === '"' || c === "'") {
        this.skipString(c);
      } else {
        if (c === '[' || c === '{') depth++;
        else if ((c === ']' || c === '}') && depth > 0) depth--;
        this.pos++;
      }
    }
  }

  private skipString(quote: string): void {
    const triple = quote.repeat(3);
    if (this.src.startsWith(triple, this.pos)) {
      const end = this.src.indexOf(triple, this.pos + 3);
      const stop = end === -1 ? this.src.length : end + 3;
      // Up to two more quotes may close a multi-line string (`""""` ends with a quote inside).
      let extra = 0;
      while (extra < 2 && this.src[stop + extra] === quote) extra++;
      this.advance(stop + extra - this.pos);
      return;
    }
    this.pos++;
    while (this.pos < this.src.length && this.src[this.pos] !== quote && this.src[this.pos] !== '\n') {
      this.pos += quote === '"' && this.src[this.pos] === '\\' ? 2 : 1;
    }
    if (this.src[this.pos] === quote) this.pos++;
  }
}
