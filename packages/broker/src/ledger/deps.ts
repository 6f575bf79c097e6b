import type { FastifyBaseLogger } from "fastify";
import type { Clock } from "../platform/clock.js";
import type { ReceiptSigner } from "../signing/signer.js";
import type { LedgerStore } from "./port.js";

/** What the ledger's routes use: its store, the clock, the receipt signer and the logger (audit findings). */
export interface LedgerDeps {
  store: LedgerStore;
  clock: Clock;
  signer: ReceiptSigner;
  log: FastifyBaseLogger;
}
