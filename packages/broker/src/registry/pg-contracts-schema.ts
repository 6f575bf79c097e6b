/**
 * Migration 8: a listing's contract. Each schema is the JSON text the broker checked at
 * registration (at most 64 KiB; text, not jsonb, so that it is served as registered), or NULL.
 */
export const CONTRACTS_SCHEMA = `
  ALTER TABLE agents ADD COLUMN input_schema TEXT;
  ALTER TABLE agents ADD COLUMN output_schema TEXT;
`;
