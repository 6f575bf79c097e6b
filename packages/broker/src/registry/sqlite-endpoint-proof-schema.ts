/**
 * SQLite migration 9: endpoint control proofs. A listing is served only once the broker verified
 * that its endpoint answers the challenge for this listing (`endpoint_verified_at`), or while a
 * listing made before this migration is in its grace period (`endpoint_grace_until`, 14 days from
 * the migration). `endpoint_challenge` is the token of a pending challenge, `endpoint_checked_at`
 * and `endpoint_check_error` the last attempt and why it failed.
 */
export const ENDPOINT_PROOF_MIGRATION = {
  version: 9,
  name: "endpoint control proofs",
  sql: `
    ALTER TABLE agents ADD COLUMN endpoint_verified_at TEXT;
    ALTER TABLE agents ADD COLUMN endpoint_challenge TEXT;
    ALTER TABLE agents ADD COLUMN endpoint_grace_until TEXT;
    ALTER TABLE agents ADD COLUMN endpoint_checked_at TEXT;
    ALTER TABLE agents ADD COLUMN endpoint_check_error TEXT;
    -- Listings made before proofs existed keep working for 14 days while the broker verifies them.
    UPDATE agents SET endpoint_grace_until = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+14 days');
    -- The listings the verifier retries by itself: unproven ones in (or past) their grace period.
    CREATE INDEX agents_endpoint_unproven ON agents (endpoint_checked_at, seq)
      WHERE endpoint_verified_at IS NULL AND endpoint_grace_until IS NOT NULL;
  `,
};
