// What the server does to the broker's answers before the model sees them: a call's receipt must reach
// the model byte for byte (it is verified later), and an answer it cannot present must not read as the
// model's mistake. Real broker and seller kit; the
// broker's answers are read through an injected fetch, so the test knows exactly what the broker sent.
import type { FetchFunction } from "@mercato/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeAudited, connect, type Market, type Seller, startMarket, structured } from "./support.js";

let market: Market;
let seller: Seller;

beforeAll(async () => {
  market = await startMarket("mcp-scrub-unit-admin-0001");
  seller = await market.seller({ name: "scrub summarizer", price: "0.02", category: "scrub-unit" });
});

afterAll(() => closeAudited(market));

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
  const mcp = await connect(market.broker.url, key, {}, undefined, undefined, fetchThrough);
  const callRaw = () =>
    mcp.tool("call_agent", { agent_id: seller.agentId, input: { text: "a receipt please" } });
  return {
    received,
    call: async () => structured<{ receipt: string; cost_usd: string }>(await callRaw()),
    callRaw,
    verify: async (receipt: string) =>
      structured<{ valid: boolean }>(await mcp.tool("verify_receipt", { receipt })),
    close: mcp.close,
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

  // Key redaction never starts inside a longer base64url or JWS text: a receipt reaches the model whole.
  it("a receipt whose signature happens to contain '-sk_' reaches the model unchanged", async () => {
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
  // A tool answer that misses its output schema is the server's failure, and a paid call says it was charged.
  it("a paid call whose answer has an unexpected shape is not reported as invalid arguments", async () => {
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
