import { challengeTokenOf } from "@mercato/protocol";
import { CONTRACT_PATH } from "../contract/index.js";
import type { ListingMatcher } from "../listing/index.js";
import { PROMETHEUS_CONTENT_TYPE, type SellerMeter } from "../metering/index.js";
import type { ErrorReport } from "./report.js";
import { headersFor, respond } from "./respond.js";
import type { SellerKitOptions, SellerKitResponse } from "./types.js";

const HEALTHY = '{"status":"ok"}';
const UNHEALTHY = '{"status":"unhealthy"}';

/** What {@link createGetRoutes} needs. */
export interface GetRoutesDeps {
  /** The listings this kit serves, whose endpoint challenge it answers. */
  listing: ListingMatcher;
  /** The contract's JSON, served as is. */
  contractBody: string;
  health: SellerKitOptions["health"];
  /** The metrics path, when metrics are on. */
  metricsPath: string | undefined;
  meter: SellerMeter;
  report: ErrorReport;
}

/** Answers a GET for `target`, or `undefined` when no route serves it. */
export type ServeGet = (target: string, requestId: string) => Promise<SellerKitResponse | undefined>;

/**
 * The kit's GET routes, matched at the end of the request path: the broker's endpoint challenge
 * (see `ENDPOINT_CHALLENGE_PATH`), the contract (`…/.well-known/mercato-contract`), `…/health`, and
 * the metrics path when metrics are on.
 */
export function createGetRoutes(deps: GetRoutesDeps): ServeGet {
  const { listing, contractBody, metricsPath, meter } = deps;
  return async (target, requestId) => {
    const token = listing.configured ? challengeTokenOf(target) : undefined;
    // The broker's endpoint challenge: this endpoint serves these listings (see ENDPOINT_CHALLENGE_PATH).
    if (token !== undefined) return respond(200, JSON.stringify(listing.challengeAnswer(token)), requestId);
    const path = pathOf(target);
    // The listing's contract, for `mercato agents register --from-kit`: public, as the listing is.
    if (path.endsWith(CONTRACT_PATH)) return respond(200, contractBody, requestId);
    if (path.endsWith("/health")) {
      const healthy = await checkHealth(deps.health, (error) =>
        deps.report(error, { stage: "health", requestId, callId: undefined, timeoutMs: undefined }),
      );
      return respond(healthy ? 200 : 503, healthy ? HEALTHY : UNHEALTHY, requestId);
    }
    if (metricsPath !== undefined && path.endsWith(metricsPath)) {
      return {
        status: 200,
        headers: headersFor(requestId, PROMETHEUS_CONTENT_TYPE),
        body: meter.prometheus(),
      };
    }
    return undefined;
  };
}

/**
 * The seller's `health()`: healthy unless it answers false or throws (handed to `failed`). Always
 * healthy without one.
 */
export async function checkHealth(
  health: SellerKitOptions["health"],
  failed: (error: unknown) => void,
): Promise<boolean> {
  if (!health) return true;
  try {
    return (await health()) !== false;
  } catch (error) {
    failed(error);
    return false;
  }
}

/** The path of a request target, without its query and trailing slashes. */
export function pathOf(target: string): string {
  const query = target.indexOf("?");
  let path = query === -1 ? target : target.slice(0, query);
  while (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  return path;
}
