// `npm run generate`: writes openapi.json and src/generated/openapi.ts from the broker's
// OpenAPI document. Build the broker first (the root `npm run generate` does).
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GENERATED_FILES, generateTypes } from "./openapi-types.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const generated = await generateTypes();
for (const [name, relative] of Object.entries(GENERATED_FILES)) {
  const path = resolve(root, relative);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, generated[name]);
  process.stdout.write(`wrote ${relative}\n`);
}
