// What the server does to the broker's answers before the model sees them: a call's receipt must reach
// the model byte for byte (it is verified later), and an answer it cannot present must not read as the
// model's mistake. Real broker and seller kit; the
// broker's answers are read through an injected fetch, so the test knows exactly what the broker sent.
import type { FetchFunction } from "@mercato/sdk";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePolicy } from "../src/policy.js";
import { createAccountSession, createMcpServer, createShared } from "../src/server.js";
import { type Market, type Seller, startMarket, structured } from "./support.js";

let market: Market;
let seller: Seller;

beforeAll(async () => {
  market = await startMarket("mcp-scrub-unit-admin-0001");
  seller = await market.seller({ name: "scrub summarizer", price: "0.02", category: "scrub-unit" });
});

afterAll(async () => {
  if (!market) return;
  const audit = await market.audit();
  expect(audit.violations).toEqual([]);
  expect(audit.ok).toBe(true);
  await market.close();
});

/**
 * A server whose SDK client reads the broker through `fetch`; `rewrite` may change the receipt of an
 * invoke answer (as a broker could legitimately have signed it), and `received` keeps the receipts the
 * client was given.
 */
async function serverThrough(
  key: string,
  rewrite: (jws: string) => string,
  reshape: (body: Record<string, unknown>) => void = () => {},
) {
  const received: string[] = [];
  const fetchThrough: FetchFunction = async (input, init) => {
    const response = await fetch(input, init);
    if (!/\/agents\/[^/]+\/invoke$/.test(new URL(input).pathname) || !response.ok) return response;
    const body = (await response.json()) as { receipt: { jws: string } };
    body.receipt.jws = rewrite(body.receipt.jws);
    received.push(body.receipt.jws);
    reshape(body);
    return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
  };
  const shared = createShared({
    brokerUrl: market.broker.url,
    policy: parsePolicy({}),
    agentTools: undefined,
    agentToolsTtlMs: 0,
    fetch: fetchThrough,
  });
  const server = createMcpServer(shared, createAccountSession(shared, key));
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "mcp-scrub", version: "1.0.0" });
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
  const callRaw = async () =>
    (await client.callTool({
      name: "call_agent",
      arguments: { agent_id: seller.agentId, input: { text: "a receipt please" } },
    })) as CallToolResult;
  return {
    received,
    call: async () => structured<{ receipt: string; cost_usd: string }>(await callRaw()),
    callRaw,
    verify: async (receipt: string) =>
      structured<{ valid: boolean }>(
        (await client.callTool({ name: "verify_receipt", arguments: { receipt } })) as CallToolResult,
      ),
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

describe("receipts pass through the key redaction unchanged", () => {
  it("a call's receipt is the broker's, byte for byte, and verifies", async () => {
    const buyer = await market.buyer("receipt buyer", "10");
    const mcp = await serverThrough(buyer.key, (jws) => jws);
    try {
      const before = await buyer.available();
      const call = await mcp.call();
      expect(call.cost_usd).toBe("0.020000");
      expect(mcp.received).toHaveLength(1);
      expect(call.receipt).toBe(mcp.received[0]);
      expect((await mcp.verify(call.receipt)).valid).toBe(true);
      expect(await buyer.available()).toBe(before - 20_000n);
    } finally {
      await mcp.close();
    }
  });

  // BUG (src/server.ts, SECRET/scrub): the redaction pattern /\b(?:mk|sk)_[A-Za-z0-9_-]{8,}/g is run over
  // the whole JSON of every tool answer, receipts included. A compact JWS is base64url
  // ([A-Za-z0-9_-] and "." between its parts), and `\b` matches between "-" or "." and a letter, so any
  // receipt whose base64url text contains "-mk_", "-sk_", ".mk_" or ".sk_" followed by 8 such characters
  // (about 1 receipt in 10^4 for Ed25519 signatures: the signature bytes are random) comes back with
  // "[redacted key]" in the middle: the model is handed a receipt that no longer verifies, for a call that
  // was charged. The same happens to any base64url or JWT text in a seller's output.
  // Fix: do not let the pattern start inside a token: replace `\b` by a lookbehind that excludes the
  // base64url alphabet and ".", i.e. /(?<![A-Za-z0-9_.-])(?:mk|sk)_[A-Za-z0-9_-]{8,}/g, and/or redact
  // only the secrets the server actually holds (the session's account key and the access keys the SDK
  // bought) rather than anything key-shaped, and never rewrite `receipt` and `transaction_id`.
  it.fails("a receipt whose signature happens to contain '-sk_' reaches the model unchanged", async () => {
    const buyer = await market.buyer("unlucky receipt buyer", "10");
    // A signature segment that base64url can produce: "-", "s", "k", "_" are all in its alphabet.
    const mcp = await serverThrough(buyer.key, (jws) => {
      const [header, payload, signature] = jws.split(".") as [string, string, string];
      return `${header}.${payload}.${signature.slice(0, 20)}-sk_${signature.slice(24)}`;
    });
    try {
      const before = await buyer.available();
      const call = await mcp.call();
      // The call was charged either way.
      expect(await buyer.available()).toBe(before - 20_000n);
      expect(mcp.received[0]).toMatch(/-sk_[A-Za-z0-9_-]{8,}/);
      expect(call.receipt).toBe(mcp.received[0]);
    } finally {
      await mcp.close();
    }
  });
});

describe("an answer the server cannot present", () => {
  // BUG (src/server.ts, runTool + asMercatoError): runTool checks a tool's OUTPUT with
  // `tool.output.parse(output)`, and a ZodError from that check is turned by asMercatoError into
  // VALIDATION_ERROR "Invalid arguments: …", the same error as a bad call from the model. For call_agent the
  // check runs after the broker has charged the call (and the meter has committed it): if the broker's
  // answer ever has another shape (a broker of another version, a field renamed), the model is told its
  // arguments were wrong, which reads as "nothing happened, fix and retry", and a retry pays again.
  // Fix: in runTool, check the output with `safeParse` and on failure throw a MercatoError that is not a
  // validation error, e.g. INTERNAL_ERROR "The broker answered in an unexpected shape", and for call_agent
  // say that the call may have been charged (with the transaction id when there is one); keep
  // "Invalid arguments" for `tool.input.parse` only.
  it.fails("a paid call whose answer has an unexpected shape is not reported as invalid arguments", async () => {
    const buyer = await market.buyer("reshaped answer buyer", "10");
    const mcp = await serverThrough(
      buyer.key,
      (jws) => jws,
      (body) => {
        body.cost_usd = 0.02;
      },
    );
    try {
      const before = await buyer.available();
      const result = await mcp.callRaw();
      // The call was charged.
      expect(await buyer.available()).toBe(before - 20_000n);
      expect(result.isError).toBe(true);
      const text = (result.content[0] as { text: string }).text;
      const error = (JSON.parse(text) as { error: { code: string; message: string } }).error;
      expect(error.message).not.toMatch(/^Invalid arguments/);
      expect(error.code).not.toBe("VALIDATION_ERROR");
    } finally {
      await mcp.close();
    }
  });
});
