// Model globs ("claude-sonnet-4-*"): "*" matches any run of characters, everything else itself.
// Matched by splitting on "*" and finding the pieces in order: linear, no regular expression
// built from configuration or agent input.

export function modelMatches(glob: string, model: string): boolean {
  const pieces = glob.split('*');
  if (pieces.length === 1) return glob === model;
  const first = pieces[0] as string;
  const last = pieces[pieces.length - 1] as string;
  if (!model.startsWith(first) || model.length < first.length + last.length || !model.endsWith(last)) return false;
  let at = first.length;
  const end = model.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i] as string;
    const found = model.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

export function anyModelMatches(globs: readonly string[], model: string): boolean {
  return globs.some((g) => modelMatches(g, model));
}
