import type { AuditEvent } from './audit-event';

/** Column order of the CSV export (also its header row). */
export const CSV_COLUMNS = [
  'id',
  'time',
  'tenant',
  'action',
  'result',
  'user',
  'client',
  'session',
  'server',
  'resource',
  'latencyMs',
  'correlationId',
  'ip',
  'details',
] as const;

/** JSON Lines: one event per line, for `jq` and log pipelines. */
export function toJsonLines(events: AuditEvent[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n') + (events.length ? '\n' : '');
}

/**
 * RFC 4180 CSV. Cells that a spreadsheet would run as a formula (leading `=`, `+`, `-`, `@`, tab,
 * CR) are prefixed with `'`, because event fields carry caller-supplied text.
 */
export function toCsv(events: AuditEvent[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const e of events) {
    lines.push(CSV_COLUMNS.map((c) => csvCell(c === 'time' ? new Date(e.time).toISOString() : e[c])).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
