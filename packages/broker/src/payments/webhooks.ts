import { MercatoError } from "@mercato/protocol";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { TopupCompletion } from "../ledger/port.js";
import { errorResponses, NO_ERROR_RESPONSES } from "../platform/http/error-responses.js";
import type { PaymentsDeps } from "./deps.js";
import type { PaymentEvent, PaymentProvider } from "./provider.js";

/** Largest webhook delivery accepted, in bytes: Stripe's checkout events are a few KiB. */
export const WEBHOOK_BODY_LIMIT = 256 * 1024;

/** What the broker did with a verified payment event (also the webhook's answer). */
export type PaymentEventOutcome =
  | "credited"
  | "already_credited"
  | "marked_failed"
  | "ignored"
  | "unknown_topup"
  | "rejected";

/**
 * Applies a verified payment event to its top-up. A paid checkout credits the wallet exactly
 * once (the store's `completeTopup`), however often and however concurrently the provider
 * delivers it. Events that cannot be applied (no such top-up, another amount than asked, a top-up
 * that already failed) are logged and answered as handled: the provider retrying them forever
 * would not help, an operator has to look.
 */
export async function applyPaymentEvent(
  event: PaymentEvent,
  context: Pick<PaymentsDeps, "store" | "clock"> & {
    provider: PaymentProvider;
    log: Pick<FastifyBaseLogger, "info" | "warn" | "error">;
  },
): Promise<PaymentEventOutcome> {
  const { store, clock, provider, log } = context;
  const facts = { provider: provider.name, eventId: event.eventId };
  if (event.kind === "ignored") {
    log.info({ ...facts, reason: event.reason }, "payment event ignored");
    return "ignored";
  }
  const topup = await store.findTopupByProviderRef(provider.name, event.providerRef);
  if (!topup) {
    log.warn(
      { ...facts, providerRef: event.providerRef, topupId: event.topupId },
      "payment event for no known top-up: ignored",
    );
    return "unknown_topup";
  }
  const at = clock.now().toISOString();
  if (event.topupId !== null && event.topupId !== topup.id) {
    log.error({ ...facts, topupId: topup.id, claimed: event.topupId }, "payment event names another top-up");
    return "rejected";
  }
  if (event.kind === "checkout_failed") {
    const failed = await store.failTopup(topup.id, at);
    log.info(
      { ...facts, topupId: topup.id, status: failed?.status, reason: event.reason },
      "checkout failed",
    );
    return "marked_failed";
  }
  if (event.amountMicros !== topup.amount) {
    log.error(
      { ...facts, topupId: topup.id, asked: topup.amount, paid: event.amountMicros },
      "paid amount differs from the top-up: not credited",
    );
    return "rejected";
  }
  if (topup.status === "succeeded") return "already_credited";
  let completion: TopupCompletion | undefined;
  try {
    completion = await store.completeTopup(topup.id, at);
  } catch (error) {
    if (error instanceof MercatoError && error.code === "CONFLICT") {
      log.error(
        { ...facts, topupId: topup.id, err: error },
        "paid checkout for a failed top-up: not credited",
      );
      return "rejected";
    }
    throw error;
  }
  // Deliveries racing on several brokers all reach the store; only the one that credited says so.
  if (!completion?.credited) return "already_credited";
  log.info({ ...facts, topupId: topup.id, amount: topup.amount }, "top-up credited");
  return "credited";
}

/**
 * Registers `POST /webhooks/:provider`, where a provider that confirms payments later (Stripe)
 * delivers its events, and `GET /checkout/return`, where Checkout sends the buyer back. The
 * webhook is parsed as raw bytes in its own encapsulated scope, because the signature covers the
 * exact body; every other route keeps the broker's JSON parser.
 */
export function registerPaymentWebhooks(app: FastifyInstance, deps: PaymentsDeps): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body, done) => {
      done(null, body);
    });
    scope.post("/webhooks/:provider", { bodyLimit: WEBHOOK_BODY_LIMIT }, async (request, reply) => {
      const name = (request.params as { provider: string }).provider;
      const provider = deps.payments;
      if (!provider?.readWebhook || provider.name !== name) {
        throw new MercatoError("NOT_FOUND", `This broker takes no webhooks from ${JSON.stringify(name)}`);
      }
      const event = await provider.readWebhook({
        rawBody: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
        headers: request.headers,
        receivedAt: deps.clock.now(),
      });
      const outcome = await applyPaymentEvent(event, {
        store: deps.store,
        clock: deps.clock,
        provider,
        log: request.log,
      });
      return reply.code(200).send({ received: true, outcome });
    });
  });

  app.get("/checkout/return", (request, reply) => {
    const cancelled = (request.query as { outcome?: unknown }).outcome === "cancel";
    const message = cancelled
      ? "The payment was cancelled; nothing was charged. Start a new top-up whenever you like."
      : "Thank you: the payment went through. Your Mercato balance is credited as soon as the payment provider confirms it, usually within seconds (check it with <code>mercato balance</code>).";
    void reply
      .header("content-security-policy", "default-src 'none'")
      .type("text/html; charset=utf-8")
      .send(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Mercato top-up</title></head><body><h1>Mercato top-up</h1><p>${message}</p></body></html>`,
      );
  });
}

/** The OpenAPI description of the routes {@link registerPaymentWebhooks} adds. */
export const PAYMENT_WEBHOOK_PATHS: Record<string, Record<string, unknown>> = {
  "/webhooks/{provider}": {
    post: {
      operationId: "receivePaymentWebhook",
      tags: ["Billing"],
      summary: "Payment provider webhook (Stripe: /webhooks/stripe)",
      description:
        "Where the payment provider reports payments. For Stripe, point a webhook endpoint at /webhooks/stripe with the checkout.session.completed, checkout.session.async_payment_succeeded, checkout.session.async_payment_failed and checkout.session.expired events, and start the broker with its signing secret in STRIPE_WEBHOOK_SECRET. The Stripe-Signature header is verified against the raw body; a paid session credits its top-up exactly once, however often it is delivered. Events for unknown top-ups are logged and answered 200 so that they are not retried forever.",
      security: [],
      parameters: [
        { name: "provider", in: "path", required: true, schema: { type: "string" }, description: "stripe" },
      ],
      requestBody: {
        required: true,
        content: { "application/json": { schema: { type: "object", description: "The provider's event" } } },
      },
      responses: {
        "200": {
          description: "Received (credited, already credited, or ignored)",
          content: {
            "application/json": {
              schema: {
                type: "object",
                properties: { received: { const: true }, outcome: { type: "string" } },
                required: ["received", "outcome"],
              },
            },
          },
        },
        // VALIDATION_ERROR: a bad signature, nothing credited; NOT_FOUND: no such provider here.
        ...errorResponses(["VALIDATION_ERROR", "NOT_FOUND", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"]),
      },
    },
  },
  "/checkout/return": {
    get: {
      operationId: "checkoutReturn",
      tags: ["Billing"],
      summary: "Page a buyer returns to from Checkout (HTML)",
      security: [],
      parameters: [
        { name: "topup_id", in: "query", required: false, schema: { type: "string" } },
        { name: "outcome", in: "query", required: false, schema: { enum: ["success", "cancel"] } },
      ],
      responses: {
        "200": { description: "A short HTML page", content: { "text/html": {} } },
        ...NO_ERROR_RESPONSES,
      },
    },
  },
};
