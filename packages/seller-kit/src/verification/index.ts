export type {
  BrokerKeyResolverOptions,
  FetchLike,
  JsonWebKeyLike,
  JsonWebKeySetLike,
} from "./broker-keys.js";
export { BROKER_TIMEOUT_MS, brokerUrl, createBrokerKeyResolver, jwksUrl } from "./broker-keys.js";
export type { ReplayDecision, ReplayGuard } from "./replay-guard.js";
export { createReplayGuard, DEFAULT_MAX_REMEMBERED_CALLS } from "./replay-guard.js";
