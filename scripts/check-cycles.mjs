#!/usr/bin/env node
// Reports import cycles between the TypeScript sources of each package (packages/*/src),
// following relative imports and re-exports only (workspace packages depend on each other
// through their built entry points, and npm would refuse a cycle between them).
//
// An edge is type-only when the whole statement is erased at build time: `import type …` or
// `export type … from`. With `verbatimModuleSyntax`, `import { type A } from "./a.js"` still
// loads ./a.js, so it is a runtime edge. Tests (*.test.ts) and generated code (src/generated)
// are left out.
//
// Exit code 1 when a cycle has at least one runtime edge. Cycles made only of type-only edges
// are listed as well (they are still arrows pointing both ways), and fail with --strict.
//
// A package with a `layers.json` (its src folders from the bottom up) is also checked for upward
// imports: a file may import from its own folder and from folders below it, never from one above
// it, type-only imports included. Every upward import is listed and fails the check.
//
//   node scripts/check-cycles.mjs [--strict] [package-dir …]
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const strict = args.includes("--strict");
const named = args.filter((a) => !a.startsWith("--"));
const packageDirs = named.length
  ? named.map((p) => resolve(p))
  : readdirSync(join(root, "packages"))
      .map((p) => join(root, "packages", p))
      .filter((p) => existsSync(join(p, "src")));

const excluded = (file) =>
  /\.(test|spec)\.ts$/.test(file) || file.endsWith(".d.ts") || /[\\/]generated[\\/]/.test(file);

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|cts|tsx)$/.test(name) && !excluded(path)) out.push(path);
  }
  return out;
}

function resolveImport(from, specifier) {
  if (!specifier.startsWith(".")) return undefined;
  const base = resolve(dirname(from), specifier);
  const stem = base.replace(/\.(js|mjs|cjs|jsx|ts|mts|cts|tsx)$/, "");
  const candidates = [`${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, `${stem}.cts`, join(base, "index.ts")];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

/** @returns {{ target: string, typeOnly: boolean }[]} */
function importsOf(file) {
  const text = readFileSync(file, "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found = [];
  const add = (spec, typeOnly) => {
    const target = resolveImport(file, spec);
    if (target && !excluded(target)) found.push({ target, typeOnly });
  };
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, Boolean(node.importClause?.isTypeOnly));
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      add(node.moduleReference.expression.text, node.isTypeOnly);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node.arguments[0].text, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      const lit = node.argument.literal;
      if (ts.isStringLiteral(lit)) add(lit.text, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** Tarjan's strongly connected components. */
function components(nodes, edges) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || edges.get(v)?.has(v)) out.push(comp);
    }
  };
  for (const v of nodes) if (!idx.has(v)) strong(v);
  return out;
}

/** Elementary cycles inside one component, each starting at its smallest file, capped. */
function cyclesIn(comp, edges, cap = 50) {
  const members = new Set(comp);
  const sorted = [...comp].sort();
  const cycles = [];
  for (const [i, start] of sorted.entries()) {
    const allowed = new Set(sorted.slice(i));
    const path = [start];
    const onPath = new Set([start]);
    const walk = (v) => {
      for (const w of edges.get(v)?.keys() ?? []) {
        if (cycles.length >= cap || !members.has(w) || !allowed.has(w)) continue;
        if (w === start) cycles.push([...path]);
        else if (!onPath.has(w)) {
          path.push(w);
          onPath.add(w);
          walk(w);
          path.pop();
          onPath.delete(w);
        }
      }
    };
    walk(start);
  }
  return cycles;
}

/** The layer of each file under a package with `layers.json`: its index in the declared order. */
function layerOf(pkg, file, spec) {
  const rel = relative(join(pkg, "src"), file).split(/[\\/]/);
  const folder = rel.length === 1 ? spec.root?.[rel[0]] : rel[0];
  if (folder === "top") return spec.layers.length;
  const index = spec.layers.indexOf(folder);
  if (index < 0) throw new Error(`${relative(root, file)}: folder ${folder} is not in layers.json`);
  return index;
}

let runtimeCycles = 0;
let typeCycles = 0;
let upward = 0;
for (const pkg of packageDirs) {
  const files = sourceFiles(join(pkg, "src"));
  /** @type {Map<string, Map<string, boolean>>} file → target → typeOnly (false if any runtime import) */
  const edges = new Map();
  for (const file of files) {
    const out = new Map();
    for (const { target, typeOnly } of importsOf(file))
      out.set(target, (out.get(target) ?? true) && typeOnly);
    edges.set(file, out);
  }
  const rel = (f) => relative(join(pkg, "src"), f);
  const layersFile = join(pkg, "layers.json");
  if (existsSync(layersFile)) {
    const spec = JSON.parse(readFileSync(layersFile, "utf8"));
    for (const [file, targets] of edges) {
      for (const target of targets.keys()) {
        const [from, to] = [layerOf(pkg, file, spec), layerOf(pkg, target, spec)];
        if (to > from) {
          console.log(`${relative(root, pkg)}: upward import: ${rel(file)} -> ${rel(target)}`);
          upward++;
        }
      }
    }
  }
  for (const comp of components(files, edges)) {
    for (const cycle of cyclesIn(comp, edges)) {
      const steps = cycle.map((f, i) => [f, cycle[(i + 1) % cycle.length]]);
      const typeOnly = steps.every(([a, b]) => edges.get(a).get(b));
      const shown = [
        ...steps.map(([a, b]) => `${rel(a)}${edges.get(a).get(b) ? " =type=>" : " ->"}`),
        rel(cycle[0]),
      ];
      const label = typeOnly ? "type-only cycle" : "cycle";
      console.log(`${relative(root, pkg)}: ${label}: ${shown.join(" ")}`);
      if (typeOnly) typeCycles++;
      else runtimeCycles++;
    }
  }
}

if (upward > 0) console.log(`check-cycles: ${upward} upward import(s) against layers.json`);
const total = runtimeCycles + typeCycles;
if (total === 0) console.log(`check-cycles: no import cycles in ${packageDirs.length} packages`);
else console.log(`check-cycles: ${runtimeCycles} cycle(s) with runtime imports, ${typeCycles} type-only`);
process.exit(runtimeCycles > 0 || upward > 0 || (strict && typeCycles > 0) ? 1 : 0);
