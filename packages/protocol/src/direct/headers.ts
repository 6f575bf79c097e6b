/**
 * Headers of a direct call (SDK → seller, the broker off the path). The body is the seller's usual
 * `{"input","call_id","timeout_ms"}` with `call_id` = {@link directCallId}.
 */
export const DIRECT_HEADERS = {
  /** The grant token, a compact JWS signed by the broker (`verifyGrant`). */
  grant: "mercato-grant",
  /** The buyer's voucher for this call: `seq=<n>;owed=<micros>;sig=<base64url>` (`parseVoucherHeader`). */
  voucher: "mercato-voucher",
} as const;

/**
 * The `call_id` of a direct call: `{grant_id}:{sequence}`, unique because sequences only grow.
 *
 * @example directCallId("grt_4f9a2c1b7d", 3); // "grt_4f9a2c1b7d:3"
 */
export function directCallId(grantId: string, sequence: number): string {
  return `${grantId}:${sequence}`;
}
