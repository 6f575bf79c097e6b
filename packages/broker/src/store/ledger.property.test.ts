import { describeLedgerProperties } from "./ledger-properties.js";
import { createSqliteStore } from "./sqlite/sqlite-store.js";

describeLedgerProperties("SQLite in memory", async () => createSqliteStore({ path: ":memory:" }), {
  modelRuns: 2_000,
  concurrentRuns: 500,
});
