import { createSqliteStore } from "../../src/app/sqlite-store.js";
import { describeLedgerProperties } from "../conformance/ledger-properties.js";

describeLedgerProperties("SQLite in memory", async () => createSqliteStore({ path: ":memory:" }), {
  modelRuns: 2_000,
  concurrentRuns: 500,
});
