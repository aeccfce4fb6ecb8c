import { DurableObject } from 'cloudflare:workers';
import { STORAGE_NAMESPACE_PATTERN } from '../tenancy/model';
import { checkCost, CostRefusal } from './sql-cost';
import { checkStatement } from './sql-guard';
import { schemaView, type TableStats } from './sql-schema-view';

/** Rows returned when the caller does not ask for fewer; also the most a caller may ask for. */
export const DEFAULT_ROW_LIMIT = 1000;
/** A result stops growing once its rows reach this many bytes of JSON (marked `truncated`). */
export const MAX_RESULT_BYTES = 512 * 1024;
/** Writes are refused once a tenant's database holds this many bytes. */
export const MAX_DATABASE_BYTES = 100 * 1024 * 1024;
/** At most this many bound parameters per statement. */
export const MAX_PARAMS = 100;

export type SqlParam = string | number | boolean | null;

export interface SqlRequest {
  /** The caller's tenant storage namespace (`storageNamespace`); the object refuses any other once bound. */
  tenantId: string;
  sql: string;
  params: SqlParam[];
  /** `read`: only statements that read, inside a transaction rolled back if anything was written. */
  mode: 'read' | 'write';
  maxRows: number;
}

export type SqlResult =
  { ok: true; columns: string[]; rows: unknown[][]; rowCount: number; truncated: boolean; rowsWritten: number } | { ok: false; error: string };

const TENANT_KEY = 'smcp:tenant';

class RefusedWrite extends Error {}

/**
 * One tenant's SQL database: a SQLite-backed Durable Object addressed by `idFromName(tenantId)`,
 * so two tenants never share a database file and nothing in a statement can name another one (the
 * tenant comes from the caller's principal, not from input). As defence in depth the object binds
 * itself to the first tenant that uses it and refuses any other, re-validates every statement
 * (it is the authority, not its callers), runs reads in a transaction that is rolled back if the
 * statement wrote anything, and bounds rows, result bytes, database size and, before running
 * anything, the statement's worst-case work (`sql-cost.ts`: SQLite cannot be stopped mid-statement,
 * so a statement that could run long is refused instead of abandoned).
 */
export class TenantDatabase extends DurableObject<Env> {
  /** Row and byte counts for the cost bound, valid until the next write. */
  private readonly stats: TableStats = new Map();

  /** Run one validated statement; never throws for a bad statement, answers `{ ok: false }`. */
  async query(request: SqlRequest): Promise<SqlResult> {
    if (!STORAGE_NAMESPACE_PATTERN.test(request.tenantId)) return { ok: false, error: 'invalid tenant' };
    const bound = this.ctx.storage.kv.get<string>(TENANT_KEY);
    if (bound === undefined) this.ctx.storage.kv.put(TENANT_KEY, request.tenantId);
    else if (bound !== request.tenantId) return { ok: false, error: 'this database belongs to another tenant' };

    const verdict = checkStatement(request.sql);
    if (!verdict.ok) return { ok: false, error: verdict.reason };
    if (verdict.kind === 'write' && request.mode === 'read') {
      return { ok: false, error: `${verdict.verb} writes; your role may only run statements that read (SELECT, VALUES, WITH … SELECT)` };
    }
    if (verdict.kind === 'write' && this.ctx.storage.sql.databaseSize >= MAX_DATABASE_BYTES) {
      return { ok: false, error: `database is full (${MAX_DATABASE_BYTES} bytes); delete data before writing more` };
    }
    if (request.params.length > MAX_PARAMS) return { ok: false, error: `at most ${MAX_PARAMS} parameters` };
    const maxRows = Math.min(Math.max(1, Math.floor(request.maxRows)), DEFAULT_ROW_LIMIT);
    const params = request.params.map((p) => (typeof p === 'boolean' ? Number(p) : p));

    try {
      return this.ctx.storage.transactionSync(() => {
        const cost = checkCost(verdict.tokens, verdict.verb, verdict.kind, schemaView(this.ctx.storage.sql, this.stats), params);
        if (!cost.ok) throw new CostRefusal(cost.reason);
        const cursor = this.ctx.storage.sql.exec(verdict.statement, ...params);
        const rows: unknown[][] = [];
        let bytes = 0;
        let truncated = false;
        const raw = cursor.raw();
        for (let next = raw.next(); !next.done; next = raw.next()) {
          const out = next.value.map((v) => (v instanceof ArrayBuffer ? { base64: toBase64(v) } : v));
          bytes += JSON.stringify(out).length;
          if (rows.length >= maxRows || bytes > MAX_RESULT_BYTES) {
            truncated = true;
            // A write (INSERT … RETURNING) still runs to completion; a read just stops here.
            if (verdict.kind === 'write') while (!raw.next().done);
            break;
          }
          rows.push(out);
        }
        // Backstop for the guard: a read that wrote anything is rolled back by throwing.
        if (request.mode === 'read' && cursor.rowsWritten > 0) throw new RefusedWrite('statement wrote data; your role may only read');
        return { ok: true as const, columns: cursor.columnNames, rows, rowCount: rows.length, truncated, rowsWritten: cursor.rowsWritten };
      });
    } catch (error) {
      if (error instanceof RefusedWrite || error instanceof CostRefusal) return { ok: false, error: error.message };
      return { ok: false, error: `SQL error: ${cleanSqliteMessage(error)}` };
    } finally {
      // Counts of the tables a write names are stale once it ran (a foreign-key cascade elsewhere
      // only removes rows, so older counts there still bound); schema changes forget everything.
      if (verdict.kind === 'write') {
        if (['INSERT', 'UPDATE', 'DELETE', 'REPLACE'].includes(verdict.verb)) for (const t of verdict.tokens) this.stats.delete(t.value.toLowerCase());
        else this.stats.clear();
      }
    }
  }

  /** The tenant was deleted: drop the whole database (the purge of a retired tenant calls this). */
  async destroy(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }
}

function toBase64(buffer: ArrayBuffer): string {
  let binary = '';
  for (const b of new Uint8Array(buffer)) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** SQLite's message without the wrapper noise, and never longer than a line or two. */
function cleanSqliteMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^Error:\s*/, '').slice(0, 500);
}
