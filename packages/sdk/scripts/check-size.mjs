// `npm run lint` (after attw): what a browser or edge user pays for the SDK. Bundles each built
// entry named in package.json's `sizeLimit` with its dependencies (@mercato/protocol, zod) as a
// bundler would for a browser, minified, with code splitting: what the entry imports dynamically
// (ajv, loaded only for a direct call to an agent with an output schema) goes to chunks of its
// own. The budget is the main chunk's, gzipped; the lazily loaded chunks are printed beside it.
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
    splitting: true,
    outdir: fileURLToPath(new URL("dist/.size-check/", root)),
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const outputs = Object.entries(result.metafile.outputs).filter(([path]) => path.endsWith(".js"));
  const entryPath = outputs.find(([, meta]) => meta.entryPoint !== undefined)?.[0];
  const bytesOf = (path) => result.outputFiles.find((output) => output.path.endsWith(path))?.contents;
  const main = bytesOf(entryPath);
  if (main === undefined) throw new Error(`esbuild gave no entry chunk for ${file}`);
  const gzipped = gzipSync(main, { level: 9 }).length;
  const verdict = gzipped <= budget ? "within" : "OVER";
  process.stdout.write(
    `${file}: main chunk ${kB(gzipped)} minified + gzipped (${kB(main.length)} minified), ${verdict} the budget of ${limit}\n`,
  );
  // What the entry does not load until it needs it: not in the budget, reported so it stays in sight.
  for (const [path] of outputs) {
    if (path === entryPath) continue;
    const contents = bytesOf(path);
    if (contents === undefined) continue;
    const lazy = gzipSync(contents, { level: 9 }).length;
    process.stdout.write(
      `  lazily loaded chunk ${path.split("/").pop()}: ${kB(lazy)} minified + gzipped (${kB(contents.length)} minified), outside the budget\n`,
    );
  }
  if (gzipped > budget) {
    over = true;
    // Where the bytes go, so that whoever crossed the line sees what to trim.
    const inputs = result.metafile.outputs[entryPath]?.inputs ?? {};
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
