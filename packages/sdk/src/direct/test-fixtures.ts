// Fixtures of the direct-mode tests: a real broker, and a seller that follows the direct protocol
// with the protocol's own checks (not the seller kit). `src/index.ts` does not export them.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createBroker, createDevProvider, createScheduler, createSqliteStore } from "@mercato/broker";
import {
  createGrantLedger,
  DIRECT_HEADERS,
  type DirectFailure,
  directCallId,
  directError,
  type GrantLedger,
  grantRefusalError,
  parseVoucherHeader,
  verifyVoucher,
} from "@mercato/protocol/direct";
import { isMercatoError, MercatoError } from "@mercato/protocol/errors";
import { verifyGrant } from "@mercato/protocol/grants";
import { createClient } from "../client/client.js";
import type { MercatoClient } from "../client/mercato-client.js";
import type { FetchFunction } from "../client/request.js";
import type { Jwks } from "../client/types.js";

/** A broker on a loopback port, its clock movable, settling closed grants at once. */
export interface Market {
  baseUrl: string;
  /** Shifts the broker's clock by `ms` from the wall clock (grants are issued at its time). */
  skew(ms: number): void;
  /** Signs up an account, tops its wallet up with 100 USD, and returns a client with its key. */
  account(name: string, fetch?: FetchFunction): Promise<{ client: MercatoClient; accountId: string }>;
  /** Registers an agent served by `seller` at `price` USD, and tells the seller its id. */
  agent(owner: MercatoClient, seller: TestSeller, price: string, category?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startMarket(): Promise<Market> {
  let skewMs = 0;
  const clock = { now: () => new Date(Date.now() + skewMs) };
  const store = createSqliteStore({ path: ":memory:" });
  const payments = createDevProvider();
  const app = createBroker({
    store,
    clock,
    config: { dev: true, logLevel: "silent" },
    payments,
    validateResponses: true,
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  // The broker's sweeper with no grace period: a closed grant settles within 50 ms.
  const scheduler = createScheduler({
    store,
    clock,
    payments,
    log: app.log,
    sweepIntervalMs: 50,
    grantGraceMs: 0,
  });
  scheduler.start();
  let agents = 0;
  return {
    baseUrl,
    skew: (ms) => {
      skewMs = ms;
    },
    async account(name, fetch) {
      const created = await createClient({ baseUrl }).accounts.create({ name });
      // No exploration: these tests check call()'s exploit order (exploration has tests of its own).
      const client = createClient({ baseUrl, apiKey: created.api_key, explore: 0, ...(fetch && { fetch }) });
      await client.topups.create({ amountUsd: "100" });
      return { client, accountId: created.account_id };
    },
    async agent(owner, seller, price, category = "direct") {
      const name = `Direct ${++agents}`;
      const { agent_id } = await owner.agents.register({
        name,
        description: `${name}: answers direct calls`,
        category,
        api_endpoint: seller.url,
        pricing: { model: "per_call", price_per_call: price },
      });
      seller.agentId = agent_id;
      return agent_id;
    },
    async close() {
      await scheduler.stop();
      await app.close();
    },
  };
}

/** How the test seller answers one admitted call. */
export type Answer =
  /** 200 with an output. */
  | "ok"
  /** The handler fails: an error envelope with this status. */
  | { status: number }
  /** 200 after `delayMs`, or 504 `SELLER_TIMEOUT` at the call's `timeout_ms` when that is sooner. */
  | { delayMs: number }
  /** Misbehaves: ignores `timeout_ms` and answers 200 after `lateMs`, counting a success. */
  | { lateMs: number }
  /** Refuses the call with this reason, as if its bookkeeping said so. */
  | { refuse: DirectFailure };

/** One request as the seller saw it and answered it. */
export interface Seen {
  grantId?: string;
  sequence?: number;
  owedMicros?: number;
  status: number;
  reason?: string;
}

/** A seller following docs/direct-mode.md §3–4 with `verifyGrant`, `verifyVoucher` and a ledger. */
export interface TestSeller {
  url: string;
  /** The agent it serves: a grant for another is refused (`grant_wrong_agent`). */
  agentId: string;
  /** How it answers its `n`-th admitted call (1-based). */
  answer: (input: unknown, n: number) => Answer;
  ledger: GrantLedger;
  seen: Seen[];
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startTestSeller(
  brokerUrl: string,
  answer: TestSeller["answer"] = () => "ok",
): Promise<TestSeller> {
  const ledger = createGrantLedger();
  let jwks: Jwks | undefined;
  let admitted = 0;

  const serve = async (headers: Record<string, string | string[] | undefined>, text: string, seen: Seen) => {
    const body = JSON.parse(text) as { input: unknown; call_id: string; timeout_ms: number };
    jwks ??= (await (await fetch(`${brokerUrl}/.well-known/jwks.json`)).json()) as Jwks;
    const grant = await verifyGrant(String(headers[DIRECT_HEADERS.grant] ?? ""), jwks);
    if (grant.agent_id !== seller.agentId) throw directError("grant_wrong_agent", "Not my agent");
    const fields = parseVoucherHeader(headers[DIRECT_HEADERS.voucher] as string | undefined);
    Object.assign(seen, {
      grantId: grant.grant_id,
      sequence: fields.sequence,
      owedMicros: fields.owedMicros,
    });
    if (body.call_id !== directCallId(grant.grant_id, fields.sequence)) {
      throw directError("call_id_mismatch", "The call_id does not match the voucher");
    }
    const voucher = await verifyVoucher(fields, grant);
    const admission = ledger.admit(grant, voucher);
    if (!admission.ok) throw grantRefusalError(admission);
    let success = false;
    try {
      const plan = seller.answer(body.input, ++admitted);
      if (typeof plan === "object" && "refuse" in plan) throw directError(plan.refuse, "Refused on purpose");
      if (typeof plan === "object" && "status" in plan) {
        throw new MercatoError("INTERNAL_ERROR", "The handler failed", { status: plan.status });
      }
      if (typeof plan === "object" && "delayMs" in plan) {
        await sleep(Math.min(plan.delayMs, body.timeout_ms));
        if (plan.delayMs > body.timeout_ms) throw new MercatoError("SELLER_TIMEOUT", "The handler overran");
      }
      if (typeof plan === "object" && "lateMs" in plan) await sleep(plan.lateMs);
      success = true;
      return { output: { echo: body.input, call: admitted } };
    } finally {
      // Settled before the answer is sent, so that the next call sees it.
      ledger.settle(grant.grant_id, voucher.sequence, success);
    }
  };

  const server = createServer((request, response) => {
    let text = "";
    request.on("data", (chunk) => {
      text += chunk;
    });
    request.on("end", () => {
      const seen: Seen = { status: 200 };
      seller.seen.push(seen);
      serve(request.headers, text, seen)
        .then(
          (output) => ({ status: 200, body: output as unknown }),
          (error: unknown) => {
            const failure = isMercatoError(error) ? error : new MercatoError("INTERNAL_ERROR", String(error));
            if (typeof failure.details?.reason === "string") seen.reason = failure.details.reason;
            return { status: failure.status, body: failure.toEnvelope("req_testseller") as unknown };
          },
        )
        .then(({ status, body }) => {
          seen.status = status;
          response.writeHead(status, { "content-type": "application/json" });
          response.end(JSON.stringify(body));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const seller: TestSeller = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/call`,
    agentId: "",
    answer,
    ledger,
    seen: [],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return seller;
}
