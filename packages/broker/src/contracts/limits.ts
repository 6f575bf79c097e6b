/**
 * What a listing's contract schema may be. Each limit bounds what a seller's schema can make the
 * broker do: parse and store it (size, depth), compile it (size: code grows with the schema, refs
 * are not inlined), and validate every call against it (evaluations per value, enum size, patterns
 * on a linear-time engine, `uniqueItems` only on short arrays). See docs/contracts.md.
 */
export const CONTRACT_LIMITS = {
  /** Bytes of each schema, serialized as JSON (UTF-8). */
  maxBytes: 64 * 1024,
  /** Levels of JSON nesting in a schema document. */
  maxDepth: 32,
  /**
   * Subschemas evaluated against one value in the worst case, `$ref`s expanded: what one value
   * of the input or output can cost. A `$ref` back to a schema it is inside of counts once when
   * the way there goes down into the data (a recursive tree); without that it never ends and is refused.
   */
  maxEvaluations: 1_000,
  /** Values of one `enum`. */
  maxEnumValues: 256,
  /** Characters of one `pattern` or `patternProperties` key. */
  maxPatternLength: 512,
  /** The largest `maxItems` that `uniqueItems: true` needs beside it (comparing items is quadratic). */
  maxUniqueItems: 1_000,
  /** Issues reported for one failed validation. */
  maxIssues: 10,
  /** Characters of an issue's path or message. */
  maxIssueText: 300,
} as const;

/** The only JSON Schema dialect a contract may name in `$schema`. */
export const DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema";
