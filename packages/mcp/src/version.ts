import { createRequire } from "node:module";

/** The mcp package's version, from its package.json (`../package.json` from src/ and dist/ alike). */
export const MCP_VERSION: string = (createRequire(import.meta.url)("../package.json") as { version: string })
  .version;
