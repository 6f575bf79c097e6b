// `npm run lint` (after attw): what a browser or edge user pays for the SDK. Bundles each built
// entry named in package.json's `sizeLimit` with its dependencies (@mercato/protocol, zod) as a
// bundler would for a browser, minified, gzips it, prints the size and fails above the budget.
// Run `npm run build` first.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = new URL("../", import.meta.url);
const manifest = JSON.parse(await readFile(new URL("package.json", root), "utf8"));
const budgets = Object.entries(manifest.sizeLimit ?? {});
if (budgets.length === 0) throw new Error('package.json has no "sizeLimit" to check');

const UNITS = { B: 1, kB: 1000, MB: 1000 * 1000 };

/** "12 kB" → 12000 bytes (decimal units, as size-limit and bundlephobia count). */
function parseSize(text) {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|kB|MB)\s*$/.exec(text);
  if (!match) throw new Error(`sizeLimit must read like "12 kB", got ${JSON.stringify(text)}`);
  return Number(match[1]) * UNITS[match[2]];
}

const kB = (bytes) => `${(bytes / 1000).toFixed(2)} kB`;

let over = false;
for (const [file, limit] of budgets) {
  const budget = parseSize(limit);
  const result = await build({
    entryPoints: [fileURLToPath(new URL(file, root))],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const [output] = result.outputFiles;
  const gzipped = gzipSync(output.contents, { level: 9 }).length;
  const verdict = gzipped <= budget ? "within" : "OVER";
  process.stdout.write(
    `${file}: ${kB(gzipped)} minified + gzipped (${kB(output.contents.length)} minified), ${verdict} the budget of ${limit}\n`,
  );
  if (gzipped > budget) {
    over = true;
    // Where the bytes go, so that whoever crossed the line sees what to trim.
    const inputs = Object.values(result.metafile.outputs)[0]?.inputs ?? {};
    const largest = Object.entries(inputs)
      .sort(([, a], [, b]) => b.bytesInOutput - a.bytesInOutput)
      .slice(0, 10);
    for (const [path, { bytesInOutput }] of largest) {
      process.stdout.write(`  ${kB(bytesInOutput).padStart(10)}  ${path}\n`);
    }
  }
}
if (over) {
  process.stderr.write(
    "The SDK is over its size budget: trim it, or raise sizeLimit in package.json with a reason.\n",
  );
  process.exitCode = 1;
}
