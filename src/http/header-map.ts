// Request headers as sluice forwards them: lower-case names; a value, several values, or
// undefined for a header a step removed.
export type HeaderMap = Record<string, string | string[] | undefined>;
