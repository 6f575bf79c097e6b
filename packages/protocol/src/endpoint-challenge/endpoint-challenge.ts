import * as z from "zod";

/**
 * Where a seller proves it controls its endpoint: the broker GETs
 * `{api_endpoint}/.well-known/mercato-challenge/{token}` (the path appended to the endpoint's path,
 * its query kept) and expects {@link EndpointChallengeAnswer}. The seller kit answers it by itself.
 */
export const ENDPOINT_CHALLENGE_PATH = "/.well-known/mercato-challenge/";

/** Largest challenge answer the broker reads, bytes. */
export const MAX_CHALLENGE_ANSWER_BYTES = 16 * 1024;

/** A challenge token: 22 to 64 URL-safe characters. */
export const ChallengeToken = z.string().regex(/^[A-Za-z0-9_-]{22,64}$/);

/**
 * What the endpoint answers at the challenge path: the token it was asked about, and the listings
 * it serves — every listing of one account (`owner`), or the listed agents (`agents`), or both. The
 * broker accepts the proof for a listing when the token is the one it sent and the answer names the
 * listing's owner or the listing itself.
 */
export const EndpointChallengeAnswer = z.object({
  token: z.string().max(64),
  owner: z.string().max(200).optional(),
  agents: z.array(z.string().max(200)).max(1000).optional(),
});

/** The parsed answer of a challenge. */
export type EndpointChallengeAnswerValue = z.output<typeof EndpointChallengeAnswer>;

/** The URL the broker fetches to check `endpoint` answers `token`. */
export function challengeUrl(endpoint: string, token: string): string {
  const url = new URL(endpoint);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}${ENDPOINT_CHALLENGE_PATH}${token}`;
  return url.toString();
}

/**
 * The token a request path asks the challenge of, or undefined when the path is not a challenge
 * (`…/.well-known/mercato-challenge/{token}`, query ignored).
 */
export function challengeTokenOf(target: string): string | undefined {
  const query = target.indexOf("?");
  const path = query === -1 ? target : target.slice(0, query);
  const at = path.lastIndexOf(ENDPOINT_CHALLENGE_PATH);
  if (at === -1) return undefined;
  const token = path.slice(at + ENDPOINT_CHALLENGE_PATH.length);
  return ChallengeToken.safeParse(token).success ? token : undefined;
}

/** Why an answer does not prove control, or undefined when it does. */
export function challengeFailure(
  answer: unknown,
  token: string,
  listing: { agentId: string; ownerId: string },
): string | undefined {
  const parsed = EndpointChallengeAnswer.safeParse(answer);
  if (!parsed.success) {
    return 'answered JSON that is not a challenge answer ({"token", "owner"} or {"token", "agents"})';
  }
  const { token: answered, owner, agents } = parsed.data;
  if (answered !== token) return "answered another challenge token";
  if (owner === undefined && agents === undefined) return "answered without naming an owner or agents";
  if (owner === listing.ownerId || agents?.includes(listing.agentId)) return undefined;
  const named = [
    ...(owner === undefined ? [] : [`owner ${owner}`]),
    ...(agents === undefined ? [] : [`agents ${agents.slice(0, 5).join(", ") || "(none)"}`]),
  ].join(" and ");
  return `serves ${named}, not this listing (${listing.agentId} of ${listing.ownerId})`;
}
