// Fixtures shared by the client's tests; `src/index.ts` does not export them, so they are not
// part of the package.
import { isMercatoError, type MercatoError } from "@mercato/protocol/errors";
import { type ReceiptPayloadValue, signReceipt } from "@mercato/protocol/receipts";
import { HttpResponse, http } from "msw";
import { type SetupServer, setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll } from "vitest";

/** A receipt payload as the broker signs it. */
export const PAYLOAD: ReceiptPayloadValue = {
  transaction_id: "txn_receipt1",
  buyer_id: "acct_buyer0001",
  seller_id: "agent_seller01",
  seller_account_id: "acct_seller001",
  agent_id: "agent_seller01",
  amount_usd: "0.020000",
  fee_usd: "0.002000",
  seller_share_usd: "0.018000",
  currency: "USD",
  captured_at: "2026-03-01T12:00:00.000Z",
  issuer: "mercato",
};

/** A fresh Ed25519 key pair made with WebCrypto: it signs receipts, and its JWK is what the broker publishes. */
export async function brokerKey(kid: string) {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const { x } = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as { x: string };
  return {
    kid,
    sign: (payload: ReceiptPayloadValue = PAYLOAD) => signReceipt(payload, pair.privateKey, kid),
    jwk: { kty: "OKP", crv: "Ed25519", x, kid, alg: "EdDSA", use: "sig" } as const,
  };
}

/** Runs `action` and returns the MercatoError it throws (anything else fails the test). */
export async function failure(action: () => Promise<unknown>): Promise<MercatoError> {
  const error = await action().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isMercatoError(error)) throw new Error(`expected a MercatoError, got ${String(error)}`);
  return error;
}

/** A request as the fake broker received it. */
export interface Received {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
  signal: AbortSignal | undefined;
}

/** What a fake route answers: a JSON body (an error envelope for an error), a status and headers. */
export interface Reply {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** The broker's error envelope. */
export function envelope(code: string, message: string, details?: Record<string, unknown>) {
  return { error: { code, message, ...(details && { details }), request_id: "req_fake0001" } };
}

/**
 * An msw server for the test file that calls this (at its top level): it intercepts `fetch`,
 * and a request no handler takes fails the request and the test.
 */
export function mockServer(): SetupServer {
  const server = setupServer();
  beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
  afterEach(() => server.resetHandlers());
  afterAll(() => server.close());
  return server;
}

/** A request as the fake broker records it: its JSON body read, the rest as sent. */
export async function received(request: Request): Promise<Received> {
  const url = new URL(request.url);
  const text = await request.text();
  return {
    method: request.method,
    path: url.pathname,
    query: url.searchParams,
    headers: Object.fromEntries(request.headers),
    body: text === "" ? undefined : JSON.parse(text),
    signal: request.signal,
  };
}

const METHODS = { GET: http.get, POST: http.post, PATCH: http.patch, DELETE: http.delete };

/**
 * A broker at `base` on the msw `server`, answering as the routes say (`"POST /purchase"`,
 * `"GET /agents/{id}"` with the id written out) and recording every request it answers.
 */
export function fakeBroker(
  server: SetupServer,
  base: string,
  routes: Record<string, (request: Received) => Reply | Promise<Reply>>,
) {
  const seen: Received[] = [];
  server.use(
    ...Object.entries(routes).map(([route, handler]) => {
      const [method, path] = route.split(" ") as [keyof typeof METHODS, string];
      return METHODS[method](`${base}${path}`, async ({ request }) => {
        const recorded = await received(request);
        seen.push(recorded);
        const reply = await handler(recorded);
        return new HttpResponse(JSON.stringify(reply.body), {
          status: reply.status ?? 200,
          headers: { "content-type": "application/json", ...reply.headers },
        });
      });
    }),
  );
  return { received: seen, routes: () => seen.map((request) => `${request.method} ${request.path}`) };
}
