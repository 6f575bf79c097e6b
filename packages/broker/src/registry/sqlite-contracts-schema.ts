/**
 * Migration 14: a listing's contract. Each schema is the JSON text the broker checked at
 * registration (at most 64 KiB), or NULL. Searches read only whether they are there.
 */
export const CONTRACTS_MIGRATION = {
  version: 14,
  name: "listing contracts: input and output JSON Schemas",
  sql: `
    ALTER TABLE agents ADD COLUMN input_schema TEXT;
    ALTER TABLE agents ADD COLUMN output_schema TEXT;
  `,
};
