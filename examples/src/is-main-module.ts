import { realpathSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Whether the running script is this module, named `program`: true for `node dist/x.js` and
 * `tsx src/x.ts`, false when the module is imported (by the demo, a test, or another program
 * bundled with it, whose `import.meta.url` is then the bundle's own).
 *
 * @example if (isMainModule(import.meta.url, "price-oracle")) await main();
 */
export function isMainModule(moduleUrl: string, program: string): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  if (basename(script).replace(/\.[cm]?[jt]s$/, "") !== program) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
