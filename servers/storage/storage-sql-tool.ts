import type { AuthorServer } from '../../src/hosted/author-api';
import { z } from 'zod';
import { tenantNamespace } from '../../src/hosted/principal';
import { SENSITIVE_META } from '../../src/hosted/request-audit';
import { MIN_ROLE_META } from '../../src/hosted/tool-policy';
import { MAX_PARAMS, type SqlResult } from '../../src/storage/tenant-database';
import { MAX_ROW_VISITS, MAX_WORK_BYTES } from '../../src/storage/sql-cost';
import { MAX_SQL_LENGTH } from '../../src/storage/sql-guard';
import { LIMITS } from './storage-limits';
import { ok, refuse } from './storage-results';

const TIMED_OUT = Symbol('timed out');

/** Run the query on the caller's tenant database, giving up waiting after the time limit. */
async function runWithDeadline(stub: TenantDatabaseStub, request: Parameters<TenantDatabaseStub['query']>[0]): Promise<SqlResult | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), LIMITS.sqlTimeMs)));
  try {
    return await Promise.race([stub.query(request), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

type TenantDatabaseStub = DurableObjectStub<import('../../src/storage/tenant-database').TenantDatabase>;

/**
 * sql_query over the caller's tenant database (one `TenantDatabase` Durable Object per tenant,
 * addressed by the principal's tenant, never by input). Visible to every role: `read-only`
 * principals may only read (checked by the database object, the authority), members and admins
 * may also write. Hence an explicit `smcp/minRole` instead of `readOnlyHint`, which would be
 * untrue for writers.
 */
export function registerSqlTool(server: AuthorServer): void {
  server.tool(
    'sql_query',
    {
      title: 'Run SQL',
      description:
        `Run one SQLite statement on your tenant's own database. Read-only users may run SELECT and VALUES; members and admins may also ` +
        `INSERT, UPDATE, DELETE, REPLACE, CREATE TABLE/INDEX, DROP and ALTER. WITH (CTEs: use a subquery), ATTACH, DETACH, PRAGMA, VACUUM, ` +
        `transactions, views, triggers, sqlite_/_cf_ names and functions that build large values (zeroblob/randomblob over 1 KB, ` +
        `printf with * or wide fields, replace with a longer replacement) are refused. A statement combining tables may visit at most ` +
        `${MAX_ROW_VISITS} row combinations, and any statement may process at most ${MAX_WORK_BYTES / 1024 / 1024} MiB ` +
        `(counted from whole tables before it runs). Bind values with ? and params. ` +
        `At most ${LIMITS.sqlRows} rows (maxRows lowers it), ${LIMITS.sqlTimeMs / 1000} s.`,
      inputSchema: {
        sql: z.string().max(MAX_SQL_LENGTH),
        params: z
          .array(z.union([z.string(), z.number(), z.boolean(), z.null()]))
          .max(MAX_PARAMS)
          .default([]),
        maxRows: z.number().int().min(1).max(LIMITS.sqlRows).default(LIMITS.sqlRows),
      },
      annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
      _meta: { [MIN_ROLE_META]: 'read-only', [SENSITIVE_META]: ['params'] },
    },
    async ({ sql, params, maxRows }, call) => {
      const caller = call.principal;
      const mode = caller.role === 'read-only' ? 'read' : 'write';
      const namespace = tenantNamespace(caller);
      const result = await runWithDeadline(call.tenantDatabase(), { tenantId: namespace, sql, params, mode, maxRows });
      if (result === TIMED_OUT) return refuse(`Query exceeded the time limit of ${LIMITS.sqlTimeMs} ms`);
      if (!result.ok) return refuse(`Refused: ${result.error}`);
      const { columns, rows, rowCount, truncated, rowsWritten } = result;
      return ok({ columns, rows, rowCount, truncated, rowsWritten });
    },
  );
}
