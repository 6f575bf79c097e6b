export type {
  BrokerKeyResolverOptions,
  FetchLike,
  JsonWebKeyLike,
  JsonWebKeySetLike,
} from "./broker-keys.js";
export { BROKER_TIMEOUT_MS, brokerUrl, createBrokerKeyResolver, jwksUrl } from "./broker-keys.js";
export type { ReplayGuard } from "./replay-guard.js";
export { createReplayGuard } from "./replay-guard.js";
