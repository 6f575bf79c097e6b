/**
 * Grant id: `grt_…`. Lower-case letters and digits only, so that it can sit in a voucher's signing
 * input (one field a line) and in a direct call's `call_id` (`{grant_id}:{sequence}`) unambiguously.
 * The `GrantId` schema checks the same pattern; vouchers check it here, without zod.
 */
export const GRANT_ID_PATTERN = /^grt_[a-z0-9]{8,40}$/;

/** Whether `value` is a grant id (what `GrantId.safeParse(value).success` says). */
export function isGrantId(value: unknown): value is string {
  return typeof value === "string" && GRANT_ID_PATTERN.test(value);
}
