// sluice's own operational messages (start, reload, errors) as JSON lines on stderr.
import pino from 'pino';

export type OpsLog = pino.Logger;

export function createOpsLog(level: string = process.env.SLUICE_LOG_LEVEL ?? 'info'): OpsLog {
  return pino({ level, base: { component: 'sluice' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
}
