// The trace: what each step did to one request, in order, written as the `trace` field of its
// access.ndjson line (as iron-proxy's trace is its audit record). Names and places only, never
// a value: a credential's name and "header authorization", never the secret or the surrogate.
export interface TraceEntry {
  /** The step's name (Step.name). */
  readonly step: string;
  /** What it did, snake_case: "swapped_surrogate", "resigned", "would_deny"… */
  readonly action: string;
  /** Which credential, header, parameter or limit it concerned. */
  readonly detail?: string;
}
