import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import { createStripeClient } from "../../src/payments/stripe-provider.js";

/** The secret key the fake accepts, and the webhook secret tests sign with. */
export const FAKE_STRIPE_KEY = "sk_test_fake_mercato";
export const FAKE_WEBHOOK_SECRET = "whsec_fake_mercato_tests";

/** A request the fake received, with its form body flattened (`line_items[0][quantity]`). */
export interface FakeStripeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage["headers"];
  form: Record<string, string>;
}

/** A Stripe error the next matching request answers with. */
export interface FakeStripeFailure {
  status: number;
  type: string;
  message: string;
  code?: string;
}

/**
 * A local stand-in for the few Stripe endpoints the broker calls (Checkout sessions, Connect
 * transfers), on 127.0.0.1 and a free port, for the real `stripe` client. It records every request,
 * honours idempotency keys as Stripe does (same key, same saved answer, even a failure, until the
 * keys expire), and answers anything else with
 * Stripe's 404 while counting it in `unhandled`, which tests expect to stay empty.
 */
export interface FakeStripe {
  url: string;
  /** A real Stripe client pointed at the fake. */
  client: Stripe;
  requests: FakeStripeRequest[];
  unhandled: string[];
  sessions: Map<string, Record<string, unknown>>;
  transfers: Array<Record<string, unknown>>;
  /** Makes the next request to `path` (e.g. `/v1/transfers`, POST only) fail with `failure`. */
  failNext(path: string, failure: FakeStripeFailure): void;
  /** Forgets every idempotency key, as Stripe does once they are a day old. */
  expireIdempotencyKeys(): void;
  /** A signed `checkout.session.*` delivery for a session the fake created. */
  sessionEvent(
    sessionId: string,
    options?: {
      type?: string;
      eventId?: string;
      session?: Record<string, unknown>;
      secret?: string;
      timestamp?: number;
    },
  ): { payload: string; signature: string };
  close(): Promise<void>;
}

/** Starts a {@link FakeStripe}. */
export async function startFakeStripe(): Promise<FakeStripe> {
  const requests: FakeStripeRequest[] = [];
  const unhandled: string[] = [];
  const sessions = new Map<string, Record<string, unknown>>();
  const transfers: Array<Record<string, unknown>> = [];
  const byIdempotencyKey = new Map<string, { status: number; body: unknown }>();
  const failures = new Map<string, FakeStripeFailure>();
  let sequence = 0;

  const handle = (request: FakeStripeRequest): { status: number; body: unknown } => {
    if (request.headers.authorization !== `Bearer ${FAKE_STRIPE_KEY}`) {
      return stripeError(401, "invalid_request_error", "Invalid API Key provided");
    }
    const failure = request.method === "POST" ? failures.get(request.path) : undefined;
    if (failure) {
      failures.delete(request.path);
      return stripeError(failure.status, failure.type, failure.message, failure.code);
    }
    if (request.method === "POST" && request.path === "/v1/checkout/sessions") {
      const id = `cs_test_${++sequence}`;
      const form = request.form;
      const session = {
        id,
        object: "checkout.session",
        mode: form.mode,
        status: "open",
        payment_status: "unpaid",
        currency: form["line_items[0][price_data][currency]"],
        amount_total:
          Number(form["line_items[0][price_data][unit_amount]"]) * Number(form["line_items[0][quantity]"]),
        client_reference_id: form.client_reference_id ?? null,
        metadata: { topup_id: form["metadata[topup_id]"], account_id: form["metadata[account_id]"] },
        success_url: form.success_url,
        cancel_url: form.cancel_url,
        url: `https://checkout.stripe.test/c/pay/${id}`,
      };
      sessions.set(id, session);
      return { status: 200, body: session };
    }
    if (request.method === "POST" && request.path === "/v1/transfers") {
      const transfer = {
        id: `tr_test_${++sequence}`,
        object: "transfer",
        amount: Number(request.form.amount),
        currency: request.form.currency,
        destination: request.form.destination,
        transfer_group: request.form.transfer_group ?? null,
        description: request.form.description ?? null,
        metadata: { settlement_id: request.form["metadata[settlement_id]"] },
        reversed: false,
      };
      transfers.push(transfer);
      return { status: 200, body: transfer };
    }
    if (request.method === "GET" && request.path === "/v1/transfers") {
      const group = request.query.transfer_group;
      const data = transfers.filter((t) => group === undefined || t.transfer_group === group);
      return { status: 200, body: { object: "list", url: "/v1/transfers", has_more: false, data } };
    }
    unhandled.push(`${request.method} ${request.path}`);
    return stripeError(
      404,
      "invalid_request_error",
      `Unrecognized request URL (${request.method}: ${request.path})`,
    );
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "http://localhost");
    const request: FakeStripeRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      form: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("utf8"))),
    };
    requests.push(request);
    const key = req.headers["idempotency-key"];
    const remembered = typeof key === "string" ? byIdempotencyKey.get(`${request.path}:${key}`) : undefined;
    const answer = remembered ?? handle(request);
    // As Stripe does, the first answer to a key is saved whatever it was, failures included.
    if (typeof key === "string" && !remembered) byIdempotencyKey.set(`${request.path}:${key}`, answer);
    res.writeHead(answer.status, {
      "content-type": "application/json",
      "request-id": `req_fake_${sequence}`,
    });
    res.end(JSON.stringify(answer.body));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    client: createStripeClient(FAKE_STRIPE_KEY, {
      host: "127.0.0.1",
      port,
      protocol: "http",
      maxNetworkRetries: 0,
    }),
    requests,
    unhandled,
    sessions,
    transfers,
    failNext(path, failure) {
      failures.set(path, failure);
    },
    expireIdempotencyKeys() {
      byIdempotencyKey.clear();
    },
    sessionEvent(sessionId, options = {}) {
      const session = sessions.get(sessionId) ?? { id: sessionId, object: "checkout.session" };
      const type = options.type ?? "checkout.session.completed";
      const paid =
        type === "checkout.session.completed" || type === "checkout.session.async_payment_succeeded";
      const payload = JSON.stringify({
        id: options.eventId ?? `evt_test_${sessionId}_${type}`,
        object: "event",
        type,
        api_version: Stripe.API_VERSION,
        created: Math.floor(Date.now() / 1000),
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        data: {
          object: {
            ...session,
            status: paid ? "complete" : "expired",
            payment_status: paid ? "paid" : "unpaid",
            ...options.session,
          },
        },
      });
      const signature = Stripe.webhooks.generateTestHeaderString({
        payload,
        secret: options.secret ?? FAKE_WEBHOOK_SECRET,
        ...(options.timestamp !== undefined && { timestamp: options.timestamp }),
      });
      return { payload, signature };
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

function stripeError(status: number, type: string, message: string, code?: string) {
  return { status, body: { error: { type, message, ...(code !== undefined && { code }) } } };
}
