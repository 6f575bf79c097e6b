import { createDevProvider } from "./dev-provider.js";
import type { PaymentProvider } from "./provider.js";
import { createStripeClient, createStripeProvider } from "./stripe-provider.js";

/**
 * The payment provider a configuration asks for: Stripe when both Stripe variables are set, the
 * dev provider (credits at once, no real money) in dev mode without them, none otherwise (top-ups
 * then answer 503 and settlements are recorded by the manual provider).
 */
export function paymentProviderFromConfig(
  config: { dev: boolean; stripe: { secretKey: string; webhookSecret: string } | undefined },
  publicUrl: () => string,
): PaymentProvider | undefined {
  if (config.stripe) {
    return createStripeProvider({
      stripe: createStripeClient(config.stripe.secretKey),
      webhookSecret: config.stripe.webhookSecret,
      publicUrl,
    });
  }
  return config.dev ? createDevProvider() : undefined;
}
