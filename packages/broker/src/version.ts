import { createRequire } from "node:module";

/** The broker package's version, from its package.json. */
export const BROKER_VERSION: string = (
  createRequire(import.meta.url)("../package.json") as { version: string }
).version;
