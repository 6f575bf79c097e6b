import type { PgQueryable } from "./pg-db.js";

/**
 * The two calls a statement set shared by both engines needs: SQL with `?` placeholders, which
 * the PostgreSQL side numbers (`$1, $2…`). Modules whose statements are the same in both dialects
 * (alert channels, payout destinations) are written once against it.
 */
export interface SqlQueries {
  run(sql: string, params: readonly unknown[]): Promise<void>;
  get<R extends object>(sql: string, params: readonly unknown[]): Promise<R | undefined>;
}

/** A statement the SQLite store prepares (better-sqlite3's `Statement`, as much as is used here). */
interface SqliteStatement {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
}

/** {@link SqlQueries} over the SQLite store's (cached) `prepare`. */
export function sqliteQueries(prepare: (sql: string) => SqliteStatement): SqlQueries {
  return {
    async run(sql, params) {
      prepare(sql).run(...params);
    },
    async get<R extends object>(sql: string, params: readonly unknown[]) {
      return prepare(sql).get(...params) as R | undefined;
    },
  };
}

const numberedTexts = new Map<string, string>();
/** A statement with `?` placeholders (as both stores share them) in PostgreSQL's `$1, $2…`. */
export function numbered(sql: string): string {
  let text = numberedTexts.get(sql);
  if (text === undefined) {
    let n = 0;
    text = sql.replace(/\?/g, () => `$${++n}`);
    numberedTexts.set(sql, text);
  }
  return text;
}

/** {@link SqlQueries} over a PostgreSQL pool or transaction. */
export function pgQueries(db: PgQueryable): SqlQueries {
  return {
    async run(sql, params) {
      await db.run(numbered(sql), params);
    },
    get: (sql, params) => db.one(numbered(sql), params),
  };
}
