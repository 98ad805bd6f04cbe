// Reading and writing Kubernetes YAML (the `yaml` package). Kubernetes reads YAML 1.1 (go-yaml
// v2 under sigs.k8s.io/yaml): `defaultMode: 0644` is octal 420 there, `yes` is true. Parsing as
// 1.2 would read 0644 as decimal 644 and change a file mode, so both directions use 1.1.
import { parseAllDocuments, stringify } from 'yaml';

const YAML_OPTIONS = { version: '1.1', merge: true } as const;

export interface ManifestDocument {
  value: unknown;
  /** The document's own text (comments kept), printed again when nothing changed. */
  text: string;
}

/** One entry per non-empty document; throws with the line of the first syntax error. */
export function parseManifests(text: string, source = 'input'): ManifestDocument[] {
  const docs = parseAllDocuments(text, YAML_OPTIONS);
  const out: ManifestDocument[] = [];
  let from = 0;
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    // The document's own bytes: from the end of the previous one to the end of this one, less
    // its `---` marker. Printing them again keeps an untouched object exactly as written.
    const own = text.slice(from, doc.range[2]);
    from = doc.range[2];
    const error = doc.errors[0];
    if (error !== undefined) {
      const line = error.linePos?.[0].line;
      throw new Error(`${source}${line === undefined ? '' : `:${line}`}: invalid YAML: ${error.message.split('\n')[0] ?? ''}`);
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue;
    out.push({ value, text: stripMarker(own) });
  }
  return out;
}

export function printManifest(value: unknown): string {
  return stringify(value, { ...YAML_OPTIONS, lineWidth: 0, aliasDuplicateObjects: false });
}

/** Documents joined the way kubectl prints them. */
export function joinManifests(texts: string[]): string {
  return texts.map((t) => (t.endsWith('\n') ? t : `${t}\n`)).join('---\n');
}

/** Drops a leading `---` line (a document start marker) and surrounding blank lines. */
function stripMarker(own: string): string {
  const lines = own.split('\n');
  const marker = lines.findIndex((l) => l.trim() !== '' && !l.startsWith('#'));
  if (marker >= 0 && /^---(?:\s|$)/.test(lines[marker] ?? '')) {
    const rest = (lines[marker] ?? '').slice(3).trim();
    lines.splice(marker, 1, ...(rest === '' ? [] : [rest]));
  }
  return `${lines.join('\n').replace(/^\n+/, '').trimEnd()}\n`;
}
