import type { Store } from "@mercato/broker";

/** A JSON request to a broker, as a test sends it: the status, headers and parsed body. */
export async function brokerRequest(
  base: string,
  method: string,
  path: string,
  options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.key && { authorization: `Bearer ${options.key}` }),
      ...(options.body !== undefined && { "content-type": "application/json" }),
      ...options.headers,
    },
    ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: test responses are checked field by field.
  return { status: response.status, headers: response.headers, json: (await response.json()) as any };
}

/** An account a test signed up: its id and account key. */
export interface TestAccount {
  accountId: string;
  apiKey: string;
}

/**
 * Signs up an account at the broker `base`. With `funds`, credits its wallet that many micro-USD
 * straight through the broker's store, as a completed top-up would (test money, no Stripe).
 */
export async function signUpAccount(
  base: string,
  name: string,
  funds?: { store: Pick<Store, "credit">; micros: number; at: string },
): Promise<TestAccount> {
  const { status, json } = await brokerRequest(base, "POST", "/accounts", { body: { name } });
  if (status !== 201) throw new Error(`sign-up failed (${status}): ${JSON.stringify(json)}`);
  const account = { accountId: json.account_id as string, apiKey: json.api_key as string };
  if (funds && funds.micros > 0) {
    await funds.store.credit({
      id: `topup:${account.accountId}`,
      accountId: account.accountId,
      amount: funds.micros,
      reference: "e2e",
      at: funds.at,
    });
  }
  return account;
}

/** Polls `GET /grants/{id}` until the sweeper has settled the grant (30 s at most); returns it. */
export async function settledGrant(base: string, grantId: string, key: string) {
  for (let i = 0; i < 600; i++) {
    const { json } = await brokerRequest(base, "GET", `/grants/${grantId}`, { key });
    if (json.settled_at) return json;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`grant ${grantId} was not settled`);
}
