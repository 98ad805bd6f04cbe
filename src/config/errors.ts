// Configuration problems are collected, never thrown one at a time: a user fixing sluice.toml
// should see every mistake in one run. Each issue names the file, line and key.

export interface ConfigIssue {
  /** The config file as the user named it. */
  file: string;
  /** 1-based line; 0 when the problem is the file itself (missing, unreadable). */
  line: number;
  /** Key path such as `allow[1].methods`; empty for TOML syntax errors and file errors. */
  key: string;
  /** What is wrong, and what would be valid. */
  message: string;
}

/** `FILE:LINE: KEY: message`, dropping the parts an issue does not have. */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}` : issue.file;
  return issue.key === '' ? `${where}: ${issue.message}` : `${where}: ${issue.key}: ${issue.message}`;
}

export class ConfigError extends Error {
  readonly code = 'SLUICE_CONFIG_INVALID';
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    super(issues.map(formatIssue).join('\n'), options);
    this.name = 'ConfigError';
    this.issues = Object.freeze([...issues]);
  }
}
