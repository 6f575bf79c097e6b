/** Where the generated files live, relative to packages/sdk. */
export declare const GENERATED_FILES: {
  readonly openapiJson: string;
  readonly types: string;
};

/** Builds the broker's OpenAPI document and the TypeScript types of it, in memory. */
export declare function generateTypes(): Promise<{ openapiJson: string; types: string }>;
