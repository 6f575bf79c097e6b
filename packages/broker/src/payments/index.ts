export { isWholeCents, MICROS_PER_CENT, microsToCents } from "./cents.js";
export { createDevProvider, DEV_TOPUP_NOTE } from "./dev-provider.js";
export { paymentProviderFromConfig } from "./from-config.js";
export { createManualProvider } from "./manual-provider.js";
export type {
  CheckoutRequest,
  CheckoutResult,
  PaymentEvent,
  PaymentProvider,
  PayoutRequest,
  PayoutResult,
  WebhookDelivery,
} from "./provider.js";
export { paymentRoutes } from "./routes.js";
export type { Scheduler, SchedulerOptions } from "./scheduler.js";
export { createScheduler } from "./scheduler.js";
export type { SettlementRunOptions, SettlementRunResult } from "./settlements.js";
export { payoutProviderOf, runSettlements, utcDate } from "./settlements.js";
export type { StripeProviderOptions } from "./stripe-provider.js";
export { createStripeClient, createStripeProvider } from "./stripe-provider.js";
export { readStripeWebhook, STRIPE_SIGNATURE_TOLERANCE_S } from "./stripe-webhook.js";
export type { PaymentEventOutcome } from "./webhooks.js";
export { applyPaymentEvent, PAYMENT_WEBHOOK_PATHS, registerPaymentWebhooks } from "./webhooks.js";
