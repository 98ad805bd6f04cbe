// Short connection ids: unique within a process run, prefixed with the start time so that
// lines from two runs do not collide in one log.
const prefix = Date.now().toString(36).slice(-4);
let counter = 0;

export function nextConnectionId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${prefix}-${counter.toString(36)}`;
}
