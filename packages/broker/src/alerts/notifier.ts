import { setTimeout as delay } from "node:timers/promises";
import type { FastifyBaseLogger } from "fastify";
import { Agent, fetch as undiciFetch } from "undici";
import type { Clock } from "../platform/clock.js";
import { checkSellerEndpoint, type EndpointPolicy, publicOnlyLookup } from "../platform/endpoint-policy.js";
import type { AlertSettings } from "../platform/settings.js";
import type { AlertsStore } from "./deps.js";
import { createSmtpTransport, type EmailTransport, sendEmailAlert } from "./email.js";
import { type AlertContext, type AlertMessage, renderAlert } from "./messages.js";
import { DeliveryError, type FetchLike, sendSlackAlert } from "./slack.js";
import type { AlertEvent, AlertNotifier } from "./types.js";

/** Waits between the attempts of one delivery: four attempts in all, over about 21 s. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [1_000, 4_000, 16_000];

/** Options of {@link createAlertNotifier}. */
export interface AlertNotifierOptions {
  store: AlertsStore;
  log: Pick<FastifyBaseLogger, "debug" | "info" | "warn" | "error">;
  settings: AlertSettings;
  clock: Clock;
  /**
   * Posts to Slack webhooks. By default the standard `fetch`, except outside dev mode with a
   * `urlPolicy`: then one whose connections go only to addresses `urlPolicy.resolveHost` gave and
   * the policy allowed, checked as the connection is made.
   */
  fetch?: FetchLike;
  /** Sends e-mail; by default nodemailer over `settings.smtpUrl`, and no e-mail without one. */
  transport?: EmailTransport;
  /**
   * Checked before every Slack delivery (a webhook host re-pointed at the broker's own network
   * after it was set is refused); the route checks it when it is set. None: not checked again.
   */
  urlPolicy?: EndpointPolicy;
  /** Waits before each retry, ms; one attempt more than there are delays (default 1 s, 4 s, 16 s). */
  retryDelaysMs?: readonly number[];
  /** How a retry waits (tests record the delays instead). Default: an unref'd timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Time limit of one Slack attempt, ms (default 10 s). */
  timeoutMs?: number;
}

type Channel = "slack" | "email";

/**
 * Checking the webhook URL and then letting `fetch` resolve its host again would connect to
 * whatever the second answer says (DNS rebinding). Outside dev mode the connection instead takes
 * its address from the policy's own lookup, which refuses non-public addresses, as seller calls do.
 */
function defaultFetch(policy: EndpointPolicy | undefined): FetchLike {
  if (policy === undefined || policy.dev) return (input, init) => globalThis.fetch(input, init);
  let dispatcher: Agent | undefined;
  return async (input, init) => {
    dispatcher ??= new Agent({ connect: { lookup: publicOnlyLookup(policy.resolveHost) } });
    const response = await undiciFetch(input, { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher });
    return response as unknown as Response;
  };
}

/** One message to one channel. */
interface Delivery {
  channel: Channel;
  send(): Promise<void>;
}

/** A delivery that retrying cannot fix (the Slack URL is no longer allowed). */
class PermanentDeliveryError extends DeliveryError {}

/**
 * The broker's {@link AlertNotifier}: looks up where an event goes (an agent's Slack webhook and
 * e-mail from its alert channels; for a suspended key, its account's e-mail), renders the message
 * and delivers it in the background, retrying each channel on its own with backoff. Events about
 * one agent (or account) are delivered in the order they happened. Failures are logged; `notify`
 * never throws and never waits.
 *
 * @example
 * const alerts = createAlertNotifier({ store, log, settings: config.alerts, clock: systemClock });
 * alerts.notify({ kind: "agent_down", agentId, at, consecutiveFailures: 3 });
 * await alerts.drain();
 */
export function createAlertNotifier(options: AlertNotifierOptions): AlertNotifier {
  const { store, log, clock } = options;
  const fetch: FetchLike = options.fetch ?? defaultFetch(options.urlPolicy);
  const retryDelays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const sleep = options.sleep ?? ((ms: number) => delay(ms, undefined, { ref: false }));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const transport =
    options.transport ??
    (options.settings.smtpUrl === undefined ? undefined : createSmtpTransport(options.settings.smtpUrl));
  const inFlight = new Set<Promise<void>>();
  /** The last delivery per agent or account: the next event of the same subject waits for it. */
  const tails = new Map<string, Promise<void>>();
  let emailOffLogged = false;

  const slack = (url: string, message: AlertMessage): Delivery => ({
    channel: "slack",
    async send() {
      if (options.urlPolicy) {
        try {
          await checkSellerEndpoint(url, options.urlPolicy);
        } catch (cause) {
          throw new PermanentDeliveryError("The Slack webhook URL is no longer allowed", { cause });
        }
      }
      await sendSlackAlert(fetch, url, message, timeoutMs);
    },
  });

  const email = (to: string, message: AlertMessage): Delivery | undefined => {
    if (transport === undefined) {
      if (!emailOffLogged) {
        emailOffLogged = true;
        log.info("e-mail alerts are off: no SMTP server is configured (--smtp-url, MERCATO_SMTP_URL)");
      }
      return undefined;
    }
    return {
      channel: "email",
      send: () => sendEmailAlert(transport, options.settings.from, to, message, clock.now()),
    };
  };

  /** Where the event goes, and what it says. */
  const plan = async (event: AlertEvent): Promise<Delivery[]> => {
    if (event.kind === "key_suspended") {
      const [account, key, agent] = await Promise.all([
        store.getAccount(event.accountId),
        store.getApiKey(event.keyId),
        event.agentId === null ? undefined : store.getAgent(event.agentId),
      ]);
      const context: AlertContext = {
        ...(agent && { agent: { id: agent.id, name: agent.name, apiEndpoint: agent.apiEndpoint } }),
        ...(key && { key: { prefix: key.prefix, name: key.name } }),
      };
      if (!account?.email) {
        log.info(
          { alert: event.kind, accountId: event.accountId, keyId: event.keyId },
          "alert not sent: the account has no e-mail address",
        );
        return [];
      }
      const delivery = email(account.email, renderAlert(event, context));
      return delivery ? [delivery] : [];
    }
    const [channels, agent] = await Promise.all([
      store.getAlertChannels(event.agentId),
      store.getAgent(event.agentId),
    ]);
    if (!channels || (channels.slackWebhookUrl === null && channels.email === null)) {
      log.debug(
        { alert: event.kind, agentId: event.agentId },
        "alert not sent: the agent has no alert channels",
      );
      return [];
    }
    const message = renderAlert(event, {
      ...(agent && { agent: { id: agent.id, name: agent.name, apiEndpoint: agent.apiEndpoint } }),
    });
    const deliveries: Delivery[] = [];
    if (channels.slackWebhookUrl !== null) deliveries.push(slack(channels.slackWebhookUrl, message));
    if (channels.email !== null) {
      const delivery = email(channels.email, message);
      if (delivery) deliveries.push(delivery);
    }
    return deliveries;
  };

  const withRetries = async (event: AlertEvent, delivery: Delivery): Promise<void> => {
    const about = {
      alert: event.kind,
      channel: delivery.channel,
      ...("agentId" in event && event.agentId !== null && { agentId: event.agentId }),
      ...(event.kind === "key_suspended" && { accountId: event.accountId }),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await delivery.send();
        log.info({ ...about, attempt }, "alert delivered");
        return;
      } catch (error) {
        const wait = retryDelays[attempt - 1];
        if (wait === undefined || error instanceof PermanentDeliveryError) {
          // Neither the URL nor the address is logged: a Slack webhook URL is a secret.
          log.error({ ...about, attempts: attempt, err: error }, "could not deliver alert; giving up");
          return;
        }
        log.warn({ ...about, attempt, retryInMs: wait, err: error }, "alert delivery failed; retrying");
        await sleep(wait);
      }
    }
  };

  const deliver = async (event: AlertEvent): Promise<void> => {
    const deliveries = await plan(event);
    await Promise.all(deliveries.map((delivery) => withRetries(event, delivery)));
  };

  return {
    notify(event) {
      const subject =
        event.kind === "key_suspended" ? `account:${event.accountId}` : `agent:${event.agentId}`;
      const previous = tails.get(subject) ?? Promise.resolve();
      const work = previous
        .then(() => deliver(event))
        .catch((error: unknown) => {
          log.error({ alert: event.kind, err: error }, "could not prepare alert");
        });
      tails.set(subject, work);
      inFlight.add(work);
      void work.finally(() => {
        inFlight.delete(work);
        if (tails.get(subject) === work) tails.delete(subject);
      });
    },
    async drain() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
