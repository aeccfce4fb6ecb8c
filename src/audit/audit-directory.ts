/**
 * The small tables that let queries, metrics and the daily cron find shards without guessing:
 * a scope's directory lists its days (and whether each was exported to R2); the registry lists
 * every scope. Both are written once per shard (on its first event) and once per scope.
 */
export interface DirectoryDay {
  day: string;
  exported: boolean;
}

export class AuditDirectory {
  constructor(private readonly sql: SqlStorage) {
    sql.exec('CREATE TABLE IF NOT EXISTS days (day TEXT PRIMARY KEY, exported INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID');
  }

  /** True before the scope's first day is registered. */
  isEmpty(): boolean {
    return this.sql.exec('SELECT 1 FROM days LIMIT 1').toArray().length === 0;
  }

  register(day: string): void {
    this.sql.exec('INSERT OR IGNORE INTO days (day) VALUES (?)', day);
  }

  /** Days, newest first. */
  days(): DirectoryDay[] {
    return this.sql
      .exec<{ day: string; exported: number }>('SELECT day, exported FROM days ORDER BY day DESC')
      .toArray()
      .map((r) => ({ day: r.day, exported: r.exported === 1 }));
  }

  markExported(day: string): void {
    this.sql.exec('UPDATE days SET exported = 1 WHERE day = ?', day);
  }

  markStale(day: string): void {
    this.sql.exec('UPDATE days SET exported = 0 WHERE day = ?', day);
  }

  forget(day: string): void {
    this.sql.exec('DELETE FROM days WHERE day = ?', day);
  }
}

export class AuditRegistry {
  constructor(private readonly sql: SqlStorage) {
    sql.exec('CREATE TABLE IF NOT EXISTS scopes (scope TEXT PRIMARY KEY) WITHOUT ROWID');
  }

  register(scope: string): void {
    this.sql.exec('INSERT OR IGNORE INTO scopes (scope) VALUES (?)', scope);
  }

  scopes(): string[] {
    return this.sql
      .exec<{ scope: string }>('SELECT scope FROM scopes ORDER BY scope')
      .toArray()
      .map((r) => r.scope);
  }
}
