import { createRequire } from "node:module";

/** The cli package's version, from its package.json (`../package.json` from src/ and dist/ alike). */
export const CLI_VERSION: string = (createRequire(import.meta.url)("../package.json") as { version: string })
  .version;
