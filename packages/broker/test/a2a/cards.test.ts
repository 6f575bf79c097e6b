import { AgentCard, canonicalizeAgentCard, verifyAgentCardSignature } from "@a2a-js/sdk";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createTestBroker, type TestBroker } from "../support/harness.js";

const PRICING_URI = "https://mercato.dev/a2a/ext/pricing/v1";
const CONTRACT_URI = "https://mercato.dev/a2a/ext/contract/v1";

let broker: TestBroker;

beforeEach(async () => {
  // Outside dev mode a card signs only the configured public URL.
  broker = await createTestBroker({ publicUrl: "http://localhost:80" });
  // The SDK's verifier logs each signature it rejects with console.debug: expected here.
  vi.spyOn(console, "debug").mockImplementation(() => {});
});

afterEach(async () => {
  vi.restoreAllMocks();
  await broker.close();
});

interface Jwk {
  kid: string;
  kty: string;
  crv: string;
  x: string;
  alg: string;
}

async function jwksOf(of: TestBroker): Promise<Jwk[]> {
  const response = await of.call("GET", "/.well-known/jwks.json");
  expect(response.statusCode).toBe(200);
  return (response.json() as { keys: Jwk[] }).keys;
}

/** The official SDK's check, with the keys of `of`'s JWKS (offline: no fetch of `jku`). */
async function verifyWith(of: TestBroker, card: unknown): Promise<void> {
  const keys = await jwksOf(of);
  await verifyAgentCardSignature(async (kid) => {
    const key = keys.find((k) => k.kid === kid);
    if (!key) throw new Error(`no key ${kid}`);
    return key;
  })(card as AgentCard);
}

function protectedHeader(card: { signatures: { protected: string }[] }) {
  const entry = card.signatures[0];
  if (!entry) throw new Error("unsigned");
  return JSON.parse(Buffer.from(entry.protected, "base64url").toString("utf8")) as Record<string, unknown>;
}

async function listedAgent(fields: Record<string, unknown> = {}) {
  const owner = await broker.signUp("Seller");
  const agentId = await broker.register(owner.apiKey, {
    input_schema: {
      type: "object",
      properties: { symbol: { type: "string", pattern: "^[A-Z]{2,6}$" } },
      required: ["symbol"],
      additionalProperties: false,
    },
    output_schema: { type: "object", properties: { price: { type: "number" } }, required: ["price"] },
    ...fields,
  });
  return { owner, agentId };
}

async function cardOf(agentId: string) {
  const response = await broker.call("GET", `/agents/${agentId}/agent-card.json`);
  expect(response.statusCode, response.body).toBe(200);
  // biome-ignore lint/suspicious/noExplicitAny: a card as a client parses it
  return { response, card: response.json() as any };
}

type Extension = { uri: string; params: Record<string, unknown> };
const extension = (card: { capabilities: { extensions: Extension[] } }, uri: string) => {
  const found = card.capabilities.extensions.find((e) => e.uri === uri);
  if (!found) throw new Error(`no extension ${uri}`);
  return found;
};

describe("GET /.well-known/agent-card.json (Mercato as an A2A agent)", () => {
  it("is an A2A 1.0 card that the official SDK reads whole, signed by the broker's key", async () => {
    const response = await broker.call("GET", "/.well-known/agent-card.json");
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
    expect(response.headers["cache-control"]).toMatch(/max-age=\d+/);
    const body = response.json();
    const card: AgentCard = body;
    expect(card.name).toBe("Mercato");
    expect(AgentCard.toJSON(AgentCard.fromJSON(body))).toEqual(body);
    expect(body.securitySchemes.accountKey.httpAuthSecurityScheme.scheme).toBe("Bearer");
    expect(body.skills.map((s: { id: string }) => s.id)).toEqual(["search", "call"]);
    expect(body.defaultInputModes).toEqual(["application/json"]);
    expect(body.supportedInterfaces).toEqual([
      { url: "http://localhost:80/a2a", protocolBinding: "JSONRPC", protocolVersion: "1.0" },
    ]);
    await verifyWith(broker, body);
  });
});

describe("GET /agents/{id}/agent-card.json", () => {
  it("describes the listing, its contract, price and figures, signed by the current broker key", async () => {
    const { agentId } = await listedAgent();
    const { response, card: body } = await cardOf(agentId);
    expect(response.headers["cache-control"]).toMatch(/^public, max-age=\d+$/);
    const card: AgentCard = body;
    expect(card.name).toBe("Crypto News Summarizer");
    // Nothing the card says is outside the A2A 1.0 schema or dropped by its canonical form.
    expect(AgentCard.toJSON(AgentCard.fromJSON(body))).toEqual(body);
    expect(body.supportedInterfaces).toEqual([
      {
        url: `http://localhost:80/agents/${agentId}/a2a`,
        protocolBinding: "JSONRPC",
        protocolVersion: "1.0",
      },
    ]);
    expect(body.securitySchemes.accessKey.httpAuthSecurityScheme.scheme).toBe("Bearer");
    expect(body.skills).toHaveLength(1);
    expect(body.skills[0].inputModes).toEqual(["application/json"]);
    const pricing = extension(body, PRICING_URI);
    expect(pricing.params).toMatchObject({
      agent_id: agentId,
      currency: "USD",
      pricing_model: "per_call",
      price_per_call_usd: "0.020000",
      price_per_call_micros: 20_000,
    });
    const detail = (await broker.call("GET", `/agents/${agentId}`)).json();
    expect(pricing.params.metrics).toMatchObject({
      total_calls: detail.metrics.total_calls,
      trust_score: detail.metrics.trust_score,
    });
    const contract = extension(body, CONTRACT_URI);
    expect(contract.params.input_schema).toEqual(detail.input_schema);
    expect(contract.params.output_schema).toEqual(detail.output_schema);

    await verifyWith(broker, body);
    const header = protectedHeader(body);
    const keys = await jwksOf(broker);
    expect(header).toEqual({
      alg: "EdDSA",
      kid: keys[0]?.kid,
      typ: "JOSE",
      jku: "http://localhost:80/.well-known/jwks.json",
    });
  });

  it("signs the SDK's canonical form of the card, byte for byte", async () => {
    const { agentId } = await listedAgent();
    const { card } = await cardOf(agentId);
    const [key] = await jwksOf(broker);
    const entry = card.signatures[0];
    const payload = Buffer.from(canonicalizeAgentCard(card), "utf8");
    const input = Buffer.from(`${entry.protected}.${payload.toString("base64url")}`);
    const publicKey = await crypto.subtle.importKey("jwk", key as JsonWebKey, { name: "Ed25519" }, false, [
      "verify",
    ]);
    const ok = await crypto.subtle.verify(
      { name: "Ed25519" },
      publicKey,
      Buffer.from(entry.signature, "base64url"),
      input,
    );
    expect(ok).toBe(true);
  });

  it("signs the configured public URL, whatever Host the request names", async () => {
    const { agentId } = await listedAgent();
    const response = await broker.call("GET", `/agents/${agentId}/agent-card.json`, {
      headers: { host: "evil.example" },
    });
    const card = response.json();
    expect(card.supportedInterfaces[0].url).toBe(`http://localhost:80/agents/${agentId}/a2a`);
    expect(protectedHeader(card).jku).toBe("http://localhost:80/.well-known/jwks.json");
  });

  it("outside dev mode without a public URL, signs no card: it would sign a URL the request named", async () => {
    const bare = await createTestBroker();
    try {
      const response = await bare.call("GET", "/.well-known/agent-card.json", {
        headers: { host: "evil.example" },
      });
      expect(response.statusCode).toBe(503);
      expect(response.json().error.code).toBe("SERVICE_UNAVAILABLE");
      expect(response.body).toContain("--public-url");
    } finally {
      await bare.close();
    }
  });
});

describe("attacks on agent cards", () => {
  it("a card whose price was edited after signing fails the official check", async () => {
    const { agentId } = await listedAgent();
    const { card } = await cardOf(agentId);
    await verifyWith(broker, card);
    const cheaper = structuredClone(card);
    extension(cheaper, PRICING_URI).params.price_per_call_usd = "0.000001";
    await expect(verifyWith(broker, cheaper)).rejects.toThrow(/No valid signatures/);
    const micros = structuredClone(card);
    extension(micros, PRICING_URI).params.price_per_call_micros = 1;
    await expect(verifyWith(broker, micros)).rejects.toThrow(/No valid signatures/);
  });

  it("a card whose figures, contract or extension list were edited fails", async () => {
    const { agentId } = await listedAgent();
    const { card } = await cardOf(agentId);
    const better = structuredClone(card);
    (extension(better, PRICING_URI).params.metrics as Record<string, unknown>).trust_score = 0.99;
    await expect(verifyWith(broker, better)).rejects.toThrow();
    const schema = structuredClone(card);
    extension(schema, CONTRACT_URI).params.input_schema = { type: "object" };
    await expect(verifyWith(broker, schema)).rejects.toThrow();
    const dropped = structuredClone(card);
    dropped.capabilities.extensions = dropped.capabilities.extensions.filter(
      (e: Extension) => e.uri !== PRICING_URI,
    );
    await expect(verifyWith(broker, dropped)).rejects.toThrow();
    const moved = structuredClone(card);
    moved.supportedInterfaces[0].url = "https://evil.example/a2a";
    await expect(verifyWith(broker, moved)).rejects.toThrow();
  });

  it("a card signed by another broker's key fails against this broker's keys (wrong kid)", async () => {
    const other = await createTestBroker({ publicUrl: "http://localhost:80" });
    try {
      const owner = await other.signUp("Other seller");
      const agentId = await other.register(owner.apiKey);
      const response = await other.call("GET", `/agents/${agentId}/agent-card.json`);
      const foreign = response.json();
      await verifyWith(other, foreign);
      expect(protectedHeader(foreign).kid).not.toBe((await jwksOf(broker))[0]?.kid);
      await expect(verifyWith(broker, foreign)).rejects.toThrow(/No valid signatures/);
      // The other broker's signature under this broker's kid: the header is signed too.
      const [mine] = await jwksOf(broker);
      const relabelled = structuredClone(foreign);
      const header = { ...protectedHeader(foreign), kid: mine?.kid };
      relabelled.signatures[0].protected = Buffer.from(JSON.stringify(header)).toString("base64url");
      await expect(verifyWith(broker, relabelled)).rejects.toThrow(/No valid signatures/);
    } finally {
      await other.close();
    }
  });

  it("attacker text in a listing's name and description is carried as data in a valid card", async () => {
    const name = "<img src=x onerror=alert(1)>";
    const description = `"}]},"signatures":[],"x":"${"\u202e<script>alert(1)</script>\u0000".repeat(40)}`;
    const { agentId } = await listedAgent({ name, description: description.slice(0, 2000) });
    const { response, card } = await cardOf(agentId);
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
    expect(card.name).toBe(name);
    expect(card.description).toBe(description.slice(0, 2000));
    expect(card.skills[0].name).toBe(name);
    expect(AgentCard.toJSON(AgentCard.fromJSON(card))).toEqual(card);
    await verifyWith(broker, card);
  });

  it("a name and description at the registry's limits still make a valid, signed card", async () => {
    const name = "\u{1F600}<b>".repeat(100).slice(0, 100);
    const description = '\u00e9\u{1F600}"\\'.repeat(400).slice(0, 2000);
    const { agentId } = await listedAgent({ name, description });
    const { card } = await cardOf(agentId);
    expect(card.name).toBe(name);
    expect(card.description).toBe(description);
    expect(AgentCard.toJSON(AgentCard.fromJSON(card))).toEqual(card);
    await verifyWith(broker, card);
    // Past the limits, the registry refuses the listing (a 400): no card is ever that long.
    const owner = await broker.signUp("Seller 2");
    const refused = await broker.call("POST", "/agents/register", {
      key: owner.apiKey,
      body: {
        name: "N".repeat(100_000),
        description: "D".repeat(1_000_000),
        category: "crypto",
        api_endpoint: "https://api.example.com/agent/long",
        pricing: { model: "per_call", price_per_call: 0.02 },
      },
    });
    expect(refused.statusCode).toBeGreaterThanOrEqual(400);
    expect(refused.statusCode).toBeLessThan(500);
  });

  it("an unknown agent has no card (404 AGENT_NOT_FOUND)", async () => {
    const response = await broker.call("GET", "/agents/agent_nope/agent-card.json");
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe("AGENT_NOT_FOUND");
  });

  it("a listing waiting for its endpoint's proof has no card (409 AGENT_INACTIVE, as for purchases)", async () => {
    const owner = await broker.signUp("Seller");
    const agentId = await broker.register(owner.apiKey, {}, { prove: false });
    const response = await broker.call("GET", `/agents/${agentId}/agent-card.json`);
    expect(response.statusCode).toBe(409);
    expect(response.json().error).toMatchObject({
      code: "AGENT_INACTIVE",
      details: { reason: "endpoint_unverified" },
    });
  });

  it("a deactivated listing has no card (409 AGENT_INACTIVE)", async () => {
    const { owner, agentId } = await listedAgent();
    await cardOf(agentId);
    const off = await broker.call("PATCH", `/agents/${agentId}`, {
      key: owner.apiKey,
      body: { status: "inactive" },
    });
    expect(off.statusCode, off.body).toBe(200);
    const response = await broker.call("GET", `/agents/${agentId}/agent-card.json`);
    expect(response.statusCode).toBe(409);
    expect(response.json().error.code).toBe("AGENT_INACTIVE");
    const deleted = await broker.call("DELETE", `/agents/${agentId}`, { key: owner.apiKey });
    expect(deleted.statusCode).toBeLessThan(300);
    expect((await broker.call("GET", `/agents/${agentId}/agent-card.json`)).statusCode).toBe(409);
  });

  it("ids with path tricks get a 4xx, never a 500", async () => {
    const tricks = [
      "..%2F..%2Fetc%2Fpasswd",
      "..",
      "%2e%2e",
      "agent_x%00",
      "agent_x%2F..%2F..%2F.well-known",
      "%E2%80%AE",
      "%ZZ",
      "a".repeat(65),
      "a".repeat(300),
      "agent_x;drop",
      "agent_x%0d%0aSet-Cookie:%20x=1",
    ];
    for (const id of tricks) {
      const response = await broker.call("GET", `/agents/${id}/agent-card.json`);
      expect(response.statusCode, id).toBeGreaterThanOrEqual(400);
      expect(response.statusCode, id).toBeLessThan(500);
      // Fastify itself refuses, before any route and on every path, a URL that is not valid
      // percent-encoding (%ZZ) and a path parameter past 200 characters, in its own body.
      if (id !== "%ZZ" && id.length <= 200) expect(response.json().error.code, id).toBeTypeOf("string");
    }
  });
});
