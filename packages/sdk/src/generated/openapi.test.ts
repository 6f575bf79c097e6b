import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { GENERATED_FILES, generateTypes } from "../../scripts/openapi-types.mjs";

const packageRoot = new URL("../../", import.meta.url);

describe("generated OpenAPI files", () => {
  it.each(Object.entries(GENERATED_FILES) as [keyof typeof GENERATED_FILES, string][])(
    "%s (%s) matches the broker's current OpenAPI document",
    async (name, relative) => {
      const generated = await generateTypes();
      const committed = await readFile(new URL(relative, packageRoot), "utf8").catch(() => "");
      // A plain comparison, so that the message says what to do instead of printing a long diff.
      const fresh = committed === generated[name];
      expect(
        fresh,
        `packages/sdk/${relative} is stale: run \`npm run generate\` (from the repository root) and commit the result`,
      ).toBe(true);
    },
  );
});
