import pg from "pg";

/** A row-returning query: every store module talks to PostgreSQL through this. */
export interface PgQueryable {
  /** Runs `text` with `$1…` parameters and returns every row. */
  query<R extends object = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<R[]>;
  /** The first row, or undefined. */
  one<R extends object = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
  ): Promise<R | undefined>;
  /** The number of rows a write touched. */
  run(text: string, values?: readonly unknown[]): Promise<number>;
  /** Runs statements without parameters (several, separated by semicolons), unprepared: DDL. */
  exec(sql: string): Promise<void>;
}

/** One transaction's connection. */
export type PgTx = PgQueryable;

/** Options of {@link PgDb.transaction}. */
export interface TransactionOptions {
  /** Default `read committed`; `serializable` transactions are retried on serialization failures. */
  isolation?: "read committed" | "repeatable read" | "serializable";
  /**
   * Commit without waiting for the commit to reach the disk (`synchronous_commit` off, for this
   * transaction only): a server crash may lose the last fraction of a second of such commits,
   * whole, never part of one. For figures the broker can afford to lose (metrics), never money.
   */
  asyncCommit?: boolean;
}

/** A pool of connections to one PostgreSQL database (and schema). */
export interface PgDb extends PgQueryable {
  /**
   * Runs `work` in a transaction and commits it. A serialization failure (40001) or a deadlock
   * (40P01) rolls back and runs `work` again, up to 10 times with a short random backoff: `work`
   * must not have effects outside the database.
   */
  transaction<T>(work: (tx: PgTx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  readonly pool: pg.Pool;
  close(): Promise<void>;
}

/** Options of {@link createPgDb}. */
export interface PgDbOptions {
  /** `postgres://user@host:5432/database`. */
  url: string;
  /** A schema to work in instead of `public` (tests use one each); created if missing. */
  schema?: string;
  /** Connections in the pool (default 10). */
  max?: number;
}

const RETRYABLE = new Set(["40001", "40P01"]);
const MAX_ATTEMPTS = 10;

/**
 * Runs `work` (one transaction: an explicit one, or a single statement) again after a serialization
 * failure (40001) or a deadlock (40P01), up to 10 times with a short random backoff.
 */
export async function retrying<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code !== "string" || !RETRYABLE.has(code) || attempt >= MAX_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
    }
  }
}

// BIGINT columns hold micro-USD and counters, far below 2^53: numbers, not strings.
const INT8_OID = 20;
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === INT8_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as "text");
  },
};

/**
 * A pool over `options.url`. Statements are prepared once per connection (named by their text),
 * so the hot paths are planned once.
 */
export function createPgDb(options: PgDbOptions): PgDb {
  if (options.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(options.schema)) {
    throw new Error(`schema must be a lower-case SQL identifier, got ${options.schema}`);
  }
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    types,
    ...(options.schema !== undefined && { options: `-c search_path=${options.schema}` }),
  });
  // An idle connection that dies (a restarted server) must not crash the process: the pool drops
  // it and the next query opens another.
  pool.on("error", () => undefined);

  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (name === undefined) {
      name = `m${names.size}`;
      names.set(text, name);
    }
    return name;
  };
  const queryable = (client: pg.Pool | pg.PoolClient): PgQueryable => ({
    async query<R extends object>(text: string, values: readonly unknown[] = []) {
      const result = await client.query({ name: nameOf(text), text, values: values as unknown[] });
      return result.rows as R[];
    },
    async one<R extends object>(text: string, values: readonly unknown[] = []) {
      const result = await client.query({ name: nameOf(text), text, values: values as unknown[] });
      return result.rows[0] as R | undefined;
    },
    async run(text: string, values: readonly unknown[] = []) {
      const result = await client.query({ name: nameOf(text), text, values: values as unknown[] });
      return result.rowCount ?? 0;
    },
    async exec(sql: string) {
      await client.query(sql);
    },
  });

  return {
    ...queryable(pool),
    pool,
    async transaction(work, transactionOptions = {}) {
      const isolation = transactionOptions.isolation ?? "read committed";
      return retrying(async () => {
        const client = await pool.connect();
        let broken = false;
        try {
          // One round trip either way: the setting goes in BEGIN's message.
          await client.query(
            `BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}${
              transactionOptions.asyncCommit ? "; SET LOCAL synchronous_commit TO off" : ""
            }`,
          );
          const result = await work(queryable(client));
          await client.query("COMMIT");
          return result;
        } catch (error) {
          try {
            await client.query("ROLLBACK");
          } catch {
            broken = true;
          }
          throw error;
        } finally {
          client.release(broken);
        }
      });
    },
    async close() {
      await pool.end();
    },
  };
}
