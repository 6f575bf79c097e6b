// `npm run bench:selection`: bundles bench/selection.ts with the SDK's own source (call() and its
// selection, not a copy) and runs it. @mercato/protocol is the built package (the broker's formulas).
// Arguments: --seeds 1,2,3 --calls 5000 --time-value 0.01 (USD per second of waiting)
// --degrade-at 0.5 (the share of the run after which the degrader degrades).
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

// Inside the package, so that the bundle's imports resolve to the workspace's packages.
const dir = fileURLToPath(new URL("../node_modules/.cache/mercato-bench/", import.meta.url));
await mkdir(dir, { recursive: true });
const outfile = join(dir, "selection.mjs");
try {
  await build({
    entryPoints: [fileURLToPath(new URL("selection.ts", import.meta.url))],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile,
    logLevel: "warning",
    // Resolved from the SDK's folder, where the workspace's packages are.
    absWorkingDir: fileURLToPath(new URL("..", import.meta.url)),
  });
  const { main } = await import(pathToFileURL(outfile).href);
  process.exitCode = await main(process.argv.slice(2));
} finally {
  await rm(dir, { recursive: true, force: true });
}
