import { requestContext } from './request-context';

/**
 * Structured JSON logs, one object per line, so Workers Logs can filter on fields. Callers pass
 * identifiers, never credentials: there is no field here for a token, key or password. Each line
 * carries the request's correlation id when there is one.
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
  const correlationId = fields.correlationId ?? requestContext()?.correlationId;
  const line = JSON.stringify({ level, event, time: new Date().toISOString(), correlationId, ...fields });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}
