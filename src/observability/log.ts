/**
 * Structured JSON logs, one object per line, so Workers Logs can filter on fields. Callers pass
 * identifiers, never credentials: there is no field here for a token, key or password.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogFields {
  tenant?: string;
  principal?: string;
  server?: string;
  reason?: string;
  path?: string;
  correlationId?: string;
  [key: string]: string | number | boolean | undefined;
}

/** Write one structured event. */
export function log(level: LogLevel, event: string, fields: LogFields = {}): void {
  const line = JSON.stringify({ level, event, time: new Date().toISOString(), ...fields });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}

/**
 * Record a refusal (authentication, authorization, ownership). Until the audit store lands these
 * are the audit trail of denials: one `denied` event each, with the reason and who was refused.
 */
export function logDenial(reason: string, fields: LogFields = {}): void {
  log('warn', 'denied', { reason, ...fields });
}
