import { MercatoError } from "@mercato/protocol";

/** Which listings a kit serves: every listing of its `owner`, and its `agents`. */
export interface ListingMatcher {
  /** True when a call (or grant) for `agentId`, owned by `ownerId`, is one of this kit's listings. */
  serves(agentId: string, ownerId: string): boolean;
  /** What the kit answers at the endpoint challenge for `token`. */
  challengeAnswer(token: string): { token: string; owner?: string; agents?: string[] };
  /** False when the kit names no listing at all (only with `verify: false` and no direct mode). */
  readonly configured: boolean;
}

/** The options the matcher is built from. */
export interface ListingOptions {
  owner?: string | undefined;
  agents?: readonly string[] | undefined;
  /** Direct mode's deprecated `agentId`, added to the served agents. */
  directAgentId?: string | (() => string | undefined) | undefined;
  /** True when the kit checks calls (verification or direct mode on): a listing is then required. */
  required: boolean;
}

const ACCOUNT_ID = /^acct_[\x21-\x7e]{1,195}$/;
const AGENT_ID = /^agent_[\x21-\x7e]{1,194}$/;

/**
 * Builds the kit's listing matcher from its options.
 *
 * @throws MercatoError `VALIDATION_ERROR` when `owner` or `agents` is malformed, or when neither is
 * given (nor direct mode's `agentId`) while calls are checked.
 */
export function createListingMatcher(options: ListingOptions): ListingMatcher {
  const { owner, agents, directAgentId } = options;
  if (owner !== undefined && (typeof owner !== "string" || !ACCOUNT_ID.test(owner))) {
    throw invalid(`owner must be your account id (acct_…), got ${String(owner)}`);
  }
  if (agents !== undefined) {
    if (!Array.isArray(agents) || agents.length === 0) {
      throw invalid("agents must list at least one agent id (agent_…)");
    }
    const bad = agents.find((agent) => typeof agent !== "string" || !AGENT_ID.test(agent));
    if (bad !== undefined) throw invalid(`agents must be agent ids (agent_…), got ${String(bad)}`);
  }
  const configured = owner !== undefined || agents !== undefined || directAgentId !== undefined;
  if (options.required && !configured) {
    throw invalid(
      'name the listings this kit serves: owner: "acct_…" (your account id, shown by `mercato account create` and `mercato account show`) or agents: ["agent_…"]. The kit refuses calls for any other listing, so that nobody else can list your endpoint and be paid for its work',
    );
  }
  if (directAgentId !== undefined && owner === undefined && agents === undefined) {
    console.warn(
      'mercato seller kit: direct.agentId is deprecated: give sellerKit({ owner: "acct_…" }) or agents: ["agent_…"] instead (they apply to proxied and direct calls alike)',
    );
  }
  const served = new Set(agents ?? []);
  const directAgent = () => (typeof directAgentId === "function" ? directAgentId() : directAgentId);
  return {
    configured,
    serves(agentId, ownerId) {
      return (owner !== undefined && ownerId === owner) || served.has(agentId) || directAgent() === agentId;
    },
    challengeAnswer(token) {
      const named = [...served];
      const direct = directAgent();
      if (direct !== undefined && !served.has(direct)) named.push(direct);
      return {
        token,
        ...(owner !== undefined && { owner }),
        ...(named.length > 0 && { agents: named }),
      };
    },
  };
}

/** The refusal of a call for a listing this kit does not serve. */
export function wrongListing(agentId: string, ownerId: string): MercatoError {
  return new MercatoError(
    "UNAUTHENTICATED",
    `The call is for listing ${agentId} of account ${ownerId}, which this seller does not serve`,
    { details: { reason: "wrong_listing", agent_id: agentId, agent_owner: ownerId } },
  );
}

function invalid(message: string): MercatoError {
  return new MercatoError("VALIDATION_ERROR", `sellerKit: ${message}`);
}
