#!/usr/bin/env node
// Adds the platform-specific optional packages (rollup, biome, turbo, … for other systems) that
// npm leaves out of package-lock.json when its registry does not serve them, as happens behind a
// partial registry mirror. Without them `npm ci` refuses the lockfile ("Missing: … from lock
// file"). Each added entry names its version and the os/cpu/libc it is for, so npm skips it on
// other platforms and fetches it by name and version on its own. Run after `npm install`:
//   node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from "node:fs";

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(file, "utf8"));
const packages = lock.packages;

const OS = [
  ["android", "android"],
  ["darwin", "darwin"],
  ["freebsd", "freebsd"],
  ["openbsd", "openbsd"],
  ["openharmony", "openharmony"],
  ["linux", "linux"],
  ["win32", "win32"],
  ["windows", "win32"],
];
const CPU = [
  ["arm64", "arm64"],
  ["aarch64", "arm64"],
  ["x64", "x64"],
  ["64", "x64"],
  ["ia32", "ia32"],
  ["arm", "arm"],
  ["loong64", "loong64"],
  ["ppc64", "ppc64"],
  ["riscv64", "riscv64"],
  ["s390x", "s390x"],
];

function platformOf(name) {
  const parts = name.split("/").pop().split("-");
  const os = OS.find(([word]) => parts.includes(word))?.[1];
  const cpu = CPU.find(([word]) => parts.includes(word))?.[1];
  if (!os || !cpu) return undefined;
  const libc = parts.some((p) => p.startsWith("musl"))
    ? ["musl"]
    : parts.some((p) => p.startsWith("gnu"))
      ? ["glibc"]
      : undefined;
  return { os: [os], cpu: [cpu], ...(libc && os === "linux" && { libc }) };
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const base = path === "" ? "" : `${path}/`;
    if (packages[`${base}node_modules/${name}`] || packages[`node_modules/${name}`]) continue;
    const platform = platformOf(name);
    if (!platform) {
      console.warn(`complete-lockfile: cannot tell the platform of ${name}; left out`);
      continue;
    }
    packages[`node_modules/${name}`] = {
      version,
      cpu: platform.cpu,
      ...(entry.dev && { dev: true }),
      ...(platform.libc && { libc: platform.libc }),
      optional: true,
      os: platform.os,
    };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} platform entries`);
