import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import type { EmailTransport } from "../../src/alerts/email.js";
import { renderAlert } from "../../src/alerts/messages.js";
import { type AlertNotifierOptions, createAlertNotifier } from "../../src/alerts/notifier.js";
import type { AlertEvent } from "../../src/alerts/types.js";
import { createTestBroker, plantAccessKey, type TestBroker } from "../support/harness.js";
import { type SmtpSink, startSmtpSink } from "../support/monitoring.js";
import { startTestSeller } from "../support/test-sellers.js";

const SLACK_HOST = "https://hooks.slack.com";
const WEBHOOK = `${SLACK_HOST}/services/T000/B000/s3cr3t`;
const AT = "2026-03-01T12:00:00.000Z";

let broker: TestBroker;
/** What Slack received: each webhook post's path and body. */
let slack: { calls: Array<{ url: string; body: string }> };
/** What Slack answers, in turn; the last answer repeats. */
let slackAnswers: number[];
let smtp: SmtpSink;
let agentId: string;
const log = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };

/** Slack's webhook host, answered at the network layer; any other request fails the delivery. */
const server = setupServer(
  http.post(`${SLACK_HOST}/services/*`, async ({ request }) => {
    const { pathname, search } = new URL(request.url);
    slack.calls.push({ url: pathname + search, body: await request.text() });
    const status = slackAnswers.length > 1 ? (slackAnswers.shift() as number) : (slackAnswers[0] as number);
    return HttpResponse.text(status === 200 ? "ok" : "no_service", { status });
  }),
);

beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

beforeEach(async () => {
  broker = await createTestBroker({ dev: true });
  slackAnswers = [200];
  slack = { calls: [] };
  smtp = await startSmtpSink();
  const owner = await broker.signUp("Seller");
  agentId = await broker.register(owner.apiKey, { name: "Price feed" });
  for (const fn of Object.values(log)) fn.mockClear();
});

afterEach(async () => {
  await broker.close();
  await smtp.close();
});

function notifier(overrides: Partial<AlertNotifierOptions> = {}) {
  const delays: number[] = [];
  const alerts = createAlertNotifier({
    store: broker.store,
    log,
    settings: { smtpUrl: smtp.url, from: "Mercato <alerts@mercato.test>" },
    clock: broker.clock,
    // No `fetch`: the default, the global fetch, which msw answers for Slack.
    sleep: async (ms) => void delays.push(ms),
    ...overrides,
  });
  return { alerts, delays };
}

async function channels(slackWebhookUrl: string | null, email: string | null) {
  await broker.store.setAlertChannels(agentId, {
    slackWebhookUrl,
    email,
    successRateThreshold: null,
    updatedAt: AT,
  });
}

/** An error's message and those of its causes, outermost first. */
function causes(error: unknown): string[] {
  const messages: string[] = [];
  for (let e = error; e instanceof Error; e = e.cause) messages.push(e.message);
  return messages;
}

const down: AlertEvent = { kind: "agent_down", agentId: "", at: AT, consecutiveFailures: 3 };
const slackTexts = () => slack.calls.map((call) => (JSON.parse(call.body) as { text: string }).text);

describe("the alert notifier", () => {
  it("retries a failing Slack webhook with backoff until it answers 2xx", async () => {
    await channels(WEBHOOK, null);
    slackAnswers = [500, 503, 200];
    const { alerts, delays } = notifier();
    alerts.notify({ ...down, agentId });
    await alerts.drain();
    expect(slack.calls).toHaveLength(3);
    expect(delays).toEqual([1_000, 4_000]);
    expect(slack.calls[0]?.url).toBe("/services/T000/B000/s3cr3t");
    expect(JSON.parse(slack.calls[2]?.body ?? "")).toEqual({
      text: expect.stringMatching(/^\*\[Mercato\] Agent "Price feed" is down\*\nAgent "Price feed" \(agent_/),
    });
    expect(log.warn).toHaveBeenCalledTimes(2);
    expect(log.info).toHaveBeenCalledWith(
      { alert: "agent_down", channel: "slack", agentId, attempt: 3 },
      "alert delivered",
    );
  });

  it("gives up after four attempts, logs it without the webhook's secret, and never throws", async () => {
    await channels(WEBHOOK, null);
    slackAnswers = [500];
    const { alerts, delays } = notifier();
    expect(() => alerts.notify({ ...down, agentId })).not.toThrow();
    await alerts.drain();
    expect(slack.calls).toHaveLength(4);
    expect(delays).toEqual([1_000, 4_000, 16_000]);
    expect(log.error).toHaveBeenCalledTimes(1);
    expect(log.error.mock.calls[0]?.[0]).toMatchObject({
      alert: "agent_down",
      channel: "slack",
      attempts: 4,
    });
    expect(JSON.stringify([log.warn.mock.calls, log.error.mock.calls])).not.toContain("s3cr3t");
  });

  it("e-mails the agent's address, and a failing Slack does not hold the e-mail back", async () => {
    await channels(WEBHOOK, "ops@seller.test");
    slackAnswers = [500];
    const { alerts } = notifier({ retryDelaysMs: [0] });
    alerts.notify({ ...down, agentId });
    await alerts.drain();
    expect(slack.calls).toHaveLength(2);
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]).toMatchObject({
      from: "alerts@mercato.test",
      to: ["ops@seller.test"],
      subject: '[Mercato] Agent "Price feed" is down',
    });
    expect(smtp.messages[0]?.text).toContain(
      `Agent "Price feed" (${agentId}) is down: its health check failed 3 times in a row, the last at ${AT}.`,
    );
    expect(smtp.messages[0]?.raw).toMatch(/^Auto-Submitted: auto-generated\r?$/im);
  });

  it("retries an e-mail the SMTP server refused", async () => {
    await channels(null, "ops@seller.test");
    const sent: string[] = [];
    let failures = 1;
    const transport: EmailTransport = {
      async sendMail(message) {
        if (failures-- > 0) throw new Error("421 try again later");
        sent.push(message.subject);
      },
    };
    const { alerts, delays } = notifier({ transport });
    alerts.notify({ kind: "agent_recovered", agentId, at: AT });
    await alerts.drain();
    expect(sent).toEqual(['[Mercato] Agent "Price feed" is back up']);
    expect(delays).toEqual([1_000]);
  });

  it("e-mails the account of a suspended key", async () => {
    const response = await broker.call("POST", "/accounts", {
      body: { name: "Buyer", email: "buyer@example.test" },
    });
    const accountId = (response.json() as { account_id: string }).account_id;
    await plantAccessKey(broker.store, accountId, "key_suspended01");
    const key = await broker.store.getApiKey("key_suspended01");
    const { alerts } = notifier();
    alerts.notify({
      kind: "key_suspended",
      accountId,
      keyId: "key_suspended01",
      agentId,
      at: AT,
      reason: "612 calls in a minute, 40 times its usual rate",
    });
    await alerts.drain();
    expect(slack.calls).toHaveLength(0);
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]).toMatchObject({
      to: ["buyer@example.test"],
      subject: `[Mercato] Access key ${key?.prefix}… was suspended`,
    });
    expect(smtp.messages[0]?.text).toContain(
      `Your access key ${key?.prefix}… (key_suspended01) for agent "Price feed"`,
    );
    expect(smtp.messages[0]?.text).toContain("Reason: 612 calls in a minute, 40 times its usual rate");
    expect(smtp.messages[0]?.text).toContain("What to do:");
  });

  it("has e-mail off without an SMTP server, and says so once", async () => {
    await channels(null, "ops@seller.test");
    const { alerts } = notifier({ settings: { smtpUrl: undefined, from: "Mercato <alerts@localhost>" } });
    alerts.notify({ ...down, agentId });
    alerts.notify({ kind: "agent_recovered", agentId, at: AT });
    await alerts.drain();
    expect(smtp.messages).toHaveLength(0);
    const said = log.info.mock.calls.filter(([message]) => String(message).includes("e-mail alerts are off"));
    expect(said).toHaveLength(1);
  });

  it("sends nothing for an agent without channels, or an account without an e-mail", async () => {
    const { alerts } = notifier();
    alerts.notify({ ...down, agentId });
    alerts.notify({
      kind: "key_suspended",
      accountId: "acct_nobody00",
      keyId: "key_nobody00",
      agentId: null,
      at: AT,
      reason: "burst",
    });
    await alerts.drain();
    expect(slack.calls).toHaveLength(0);
    expect(smtp.messages).toHaveLength(0);
    expect(log.error).not.toHaveBeenCalled();
  });

  it("refuses, without retrying, a Slack URL whose host now resolves to a private address", async () => {
    await channels("https://hooks.rebound.test/services/T/B/x", null);
    const webhook = vi.fn(() => HttpResponse.text("ok"));
    server.use(http.post("https://hooks.rebound.test/*", webhook));
    const { alerts, delays } = notifier({
      // The global fetch (msw sees it), not the pinned one used outside dev mode by default.
      fetch: (url, init) => fetch(url, init),
      urlPolicy: { dev: false, resolveHost: async () => ["10.1.2.3"] },
    });
    alerts.notify({ ...down, agentId });
    await alerts.drain();
    expect(webhook).not.toHaveBeenCalled();
    expect(delays).toEqual([]);
    expect(log.error).toHaveBeenCalledTimes(1);
  });

  it("connects only to an address it vetted: a host re-pointed at a private address after the check is not reached", async () => {
    // The default sender outside dev mode connects with its own dispatcher, which msw does not
    // see: a real server on loopback is what it must not reach.
    const loopback = await startTestSeller(() => ({ body: "ok" }));
    onTestFinished(() => loopback.close());
    const port = new URL(loopback.url).port;
    await channels(`https://hooks.rebound.test:${port}/services/T/B/x`, null);
    const lookups: string[] = [];
    // Public when the URL is checked, loopback (where the stand-in listens) when the sender connects.
    const resolveHost = async (host: string) => {
      lookups.push(host);
      return lookups.length === 1 ? ["93.184.215.14"] : ["127.0.0.1"];
    };
    const { alerts } = notifier({
      fetch: undefined,
      retryDelaysMs: [],
      urlPolicy: { dev: false, resolveHost },
    });
    alerts.notify({ ...down, agentId });
    await alerts.drain();
    expect(lookups).toEqual(["hooks.rebound.test", "hooks.rebound.test"]);
    expect(loopback.calls).toHaveLength(0);
    expect(log.error).toHaveBeenCalledTimes(1);
    const failure = log.error.mock.calls[0]?.[0] as { err: Error };
    expect(JSON.stringify(causes(failure.err))).toContain("non-public address (127.0.0.1)");
  });

  it("delivers one agent's alerts in the order they happened, even across retries", async () => {
    await channels(WEBHOOK, null);
    slackAnswers = [500, 200];
    const { alerts } = notifier({ retryDelaysMs: [0] });
    alerts.notify({ ...down, agentId });
    alerts.notify({ kind: "agent_recovered", agentId, at: AT });
    await alerts.drain();
    expect(slackTexts().map((text) => text.split("*")[1])).toEqual([
      '[Mercato] Agent "Price feed" is down',
      '[Mercato] Agent "Price feed" is down',
      '[Mercato] Agent "Price feed" is back up',
    ]);
  });
});

describe("alert messages", () => {
  it("say what happened, when, to which agent, and what to do", () => {
    const low = renderAlert(
      {
        kind: "low_success_rate",
        agentId: "agent_abc123",
        at: AT,
        successRate: 0.8125,
        threshold: 0.9,
        calls: 32,
      },
      { agent: { id: "agent_abc123", name: "Price feed", apiEndpoint: "https://api.example.com/feed" } },
    );
    expect(low.subject).toBe('[Mercato] Agent "Price feed": success rate 81.3% in the last hour');
    expect(low.body).toContain(
      `Agent "Price feed" (agent_abc123) succeeded on 81.3% of its 32 calls in the hour up to ${AT}, below your alert threshold of 90%.`,
    );
    expect(low.body).toContain("What to do:");
    expect(low.body).toContain("PUT /agents/agent_abc123/alerts");

    const gone = renderAlert({ kind: "agent_down", agentId: "agent_gone00", at: AT, consecutiveFailures: 4 });
    expect(gone.subject).toBe("[Mercato] Agent agent_gone00 is down");
  });
});
