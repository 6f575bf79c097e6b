// The MCP registry's server.json must agree with the package it points at, and name only the
// environment variables the server reads.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";

const read = async (file: string) =>
  JSON.parse(await readFile(new URL(`../${file}`, import.meta.url), "utf8"));

describe("server.json", () => {
  it("names this package at its version, under the package's mcpName, with the variables run.ts reads", async () => {
    const manifest = await read("package.json");
    const server = await read("server.json");
    expect(server.name).toBe(manifest.mcpName);
    expect(server.version).toBe(manifest.version);
    expect(server.packages).toHaveLength(1);
    expect(server.packages[0]).toMatchObject({
      registryType: "npm",
      identifier: manifest.name,
      version: manifest.version,
    });
    expect(manifest.files).toContain("server.json");
    const source = await readFile(new URL("../src/run.ts", import.meta.url), "utf8");
    for (const variable of server.packages[0].environmentVariables) {
      expect(source, variable.name).toContain(`env.${variable.name}`);
    }
  });
});
