import type { FastifyBaseLogger, FastifyInstance, LightMyRequestResponse } from "fastify";
import { MockAgent } from "undici";
import { generateApiKey } from "../../src/accounts/api-keys.js";
import type { AlertNotifier } from "../../src/alerts/types.js";
import { createBroker } from "../../src/app/create-broker.js";
import { createSqliteStore } from "../../src/app/sqlite-store.js";
import type { Store } from "../../src/app/store.js";
import type { PaymentProvider } from "../../src/payments/provider.js";
import { type Clock, createManualClock } from "../../src/platform/clock.js";
import type { ResolveHost } from "../../src/platform/endpoint-policy.js";
import {
  DEFAULT_INVOKE_SETTINGS,
  type FraudSettings,
  type InvokeSettings,
} from "../../src/platform/settings.js";
import { apiKeyRecord } from "./records.js";

/** A broker on an in-memory store with a manual clock, for `app.inject()` tests. */
export interface TestBroker {
  app: FastifyInstance;
  store: Store;
  clock: ReturnType<typeof createManualClock>;
  /** Sends a request; `key` becomes the Bearer token, `body` is sent as JSON. */
  call(
    method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE",
    url: string,
    options?: { key?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<LightMyRequestResponse>;
  /** Creates an account; returns its id and account key. */
  signUp(name?: string): Promise<{ accountId: string; apiKey: string; keyId: string }>;
  /**
   * Registers an agent with {@link EXAMPLE_REGISTRATION}'s fields, overridden by `fields`. Outside
   * dev mode the listing waits for its endpoint's proof, which no test seller gives by default: the
   * helper records the proof in the store, as the owner's seller kit would have given it (pass
   * `{ prove: false }` to leave the listing pending).
   */
  register(apiKey: string, fields?: Record<string, unknown>, options?: { prove?: boolean }): Promise<string>;
  /**
   * Where endpoint challenges go: a mock with no network. Add an interceptor to answer one
   * (`probes.get(origin).intercept({ path }).reply(200, body)`); without one a challenge fails as
   * an unreachable endpoint.
   */
  probes: MockAgent;
  close(): Promise<void>;
}

/** A complete `POST /agents/register` request: every field a listing takes. */
export const EXAMPLE_REGISTRATION = {
  name: "Crypto News Summarizer",
  description: "Summarizes crypto news from multiple sources",
  category: "crypto",
  tags: ["news", "summarization"],
  api_endpoint: "https://api.example.com/agent/abc123",
  pricing: { model: "per_call", price_per_call: 0.02 },
} as const;

/**
 * Stores a live access key (sk_live_…) for `accountId` straight in the store, until purchases issue
 * them; returns its secret.
 */
export async function plantAccessKey(store: Store, accountId: string, id: string): Promise<string> {
  const access = generateApiKey("access");
  await store.insertApiKey(
    apiKeyRecord({
      id,
      accountId,
      kind: "access",
      prefix: access.prefix,
      hash: access.hash,
      createdAt: "2026-03-01T12:00:00.000Z",
    }),
  );
  return access.secret;
}

/** A resolver for tests: public names resolve to a documentation-free public address. */
export const publicResolver: ResolveHost = async (host) => {
  if (host.endsWith(".internal-test")) return ["10.0.0.7"];
  return ["93.184.215.14"];
};

/** Starts a test broker (not listening: requests go through `inject`). */
export async function createTestBroker(
  options: {
    dev?: boolean;
    /** `--public-url`: the URL the broker names itself by (links, signed agent cards). */
    publicUrl?: string;
    resolveHost?: ResolveHost;
    clock?: Clock;
    adminToken?: string;
    payments?: PaymentProvider;
    logger?: FastifyBaseLogger;
    invoke?: Partial<InvokeSettings>;
    /** Alerts (e.g. a recording notifier); by default the broker's own, which has nowhere to send. */
    alerts?: AlertNotifier;
    fraud?: Partial<FraudSettings>;
  } = {},
): Promise<TestBroker> {
  const store = createSqliteStore({ path: ":memory:" });
  const probes = new MockAgent();
  probes.disableNetConnect();
  const clock = createManualClock(new Date("2026-03-01T12:00:00.000Z"));
  const app = createBroker({
    store,
    clock: options.clock ?? clock,
    config: {
      dev: options.dev ?? false,
      logLevel: "silent",
      ...(options.publicUrl !== undefined && { publicUrl: options.publicUrl }),
      adminToken: options.adminToken,
      invoke: { ...DEFAULT_INVOKE_SETTINGS, ...options.invoke },
    },
    resolveHost: options.resolveHost ?? publicResolver,
    ...(options.payments && { payments: options.payments }),
    ...(options.logger && { logger: options.logger }),
    ...(options.alerts && { alerts: options.alerts }),
    ...(options.fraud && { fraud: options.fraud }),
    validateResponses: true,
    probeDispatcher: probes,
  });
  await app.ready();
  const call: TestBroker["call"] = (method, url, { key, body, headers } = {}) =>
    app.inject({
      method,
      url,
      headers: { ...(key !== undefined && { authorization: `Bearer ${key}` }), ...headers },
      ...(body !== undefined && { payload: body as object }),
    });
  return {
    app,
    store,
    clock,
    call,
    async signUp(name = "Test buyer") {
      const response = await call("POST", "/accounts", { body: { name } });
      if (response.statusCode !== 201) throw new Error(`sign-up failed: ${response.body}`);
      const json = response.json() as { account_id: string; api_key: string; key: { key_id: string } };
      return { accountId: json.account_id, apiKey: json.api_key, keyId: json.key.key_id };
    },
    async register(apiKey, fields = {}, { prove = true } = {}) {
      const response = await call("POST", "/agents/register", {
        key: apiKey,
        body: { ...EXAMPLE_REGISTRATION, ...fields },
      });
      if (response.statusCode !== 201) throw new Error(`register failed: ${response.body}`);
      const json = response.json() as { agent_id: string; status: string };
      if (prove && json.status === "pending_verification") {
        const at = (options.clock ?? clock).now().toISOString();
        await store.setEndpointProof(
          json.agent_id,
          { verifiedAt: at, challenge: null, checkedAt: at, error: null },
          { status: "active", at },
        );
      }
      return json.agent_id;
    },
    probes,
    async close() {
      await app.close();
      await probes.close();
      await store.close();
    },
  };
}
