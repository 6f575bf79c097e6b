// The benchmarks' PostgreSQL and Redis: the servers (MERCATO_TEST_DATABASE_URL and
// MERCATO_TEST_REDIS_URL, default the local ones), a statement on the admin database, and the URL of
// another database on the same server.
import pg from "pg";

export const ADMIN_DB = process.env.MERCATO_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const REDIS = process.env.MERCATO_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** Runs one statement (CREATE DATABASE, DROP DATABASE) on the admin database. */
export async function pgAdmin(sql) {
  const client = new pg.Client({ connectionString: ADMIN_DB });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The URL of database `name` on the admin database's server. */
export function databaseUrl(name) {
  const url = new URL(ADMIN_DB);
  url.pathname = `/${name}`;
  return url.toString();
}
