import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loginConfigPath } from "@mercato/mcp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configKeyStore, configPath, openConfigFile } from "./config-file.js";
import { UsageError } from "./errors.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mercato-config-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("configPath", () => {
  it("prefers MERCATO_CONFIG_DIR, then XDG_CONFIG_HOME, then ~/.config", () => {
    expect(configPath({ MERCATO_CONFIG_DIR: "/m", XDG_CONFIG_HOME: "/x", HOME: "/h" })).toBe(
      "/m/config.json",
    );
    if (process.platform === "win32") return;
    expect(configPath({ XDG_CONFIG_HOME: "/x", HOME: "/h" })).toBe("/x/mercato/config.json");
    expect(configPath({ HOME: "/h" })).toBe("/h/.config/mercato/config.json");
  });

  it("is where mercato-mcp looks for the login, whatever the environment", () => {
    for (const env of [
      { MERCATO_CONFIG_DIR: "/m", HOME: "/h" },
      { XDG_CONFIG_HOME: "/x", HOME: "/h" },
      { HOME: "/h" },
      { APPDATA: "/a", HOME: "/h" },
    ]) {
      expect(loginConfigPath(env)).toBe(configPath(env));
    }
  });
});

describe("the config file", () => {
  it("reads as empty when missing, and is written readable by its owner only", async () => {
    const path = join(dir, "nested", "config.json");
    const file = openConfigFile(path);
    expect(await file.read()).toEqual({});
    await file.update((config) => ({ ...config, url: "http://b", api_key: "mk_secret" }));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "nested"))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual({ url: "http://b", api_key: "mk_secret" });
    // Another process (a new command) reads what this one wrote.
    expect(await openConfigFile(path).read()).toEqual({ url: "http://b", api_key: "mk_secret" });
  });

  it("tightens a file that was group-readable when it writes it again", async () => {
    const path = join(dir, "config.json");
    await writeFile(path, "{}", { mode: 0o644 });
    await openConfigFile(path).update(() => ({ api_key: "mk_x" }));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("refuses a file that is not a JSON object with a UsageError saying how to fix it", async () => {
    const path = join(dir, "config.json");
    await writeFile(path, "{not json");
    await expect(openConfigFile(path).read()).rejects.toThrow(UsageError);
    await writeFile(path, "[]");
    await expect(openConfigFile(path).read()).rejects.toThrow(/delete it and run `mercato login`/);
  });

  it("removes itself on logout", async () => {
    const path = join(dir, "config.json");
    const file = openConfigFile(path);
    await file.update(() => ({ api_key: "mk_x" }));
    await file.remove();
    await expect(stat(path)).rejects.toThrow();
    expect(await file.read()).toEqual({});
  });
});

describe("configKeyStore", () => {
  it("keeps bought access keys by agent in the file, beside the login", async () => {
    const path = join(dir, "config.json");
    const file = openConfigFile(path);
    await file.update(() => ({ api_key: "mk_x" }));
    const store = configKeyStore(file);
    await store.set("agent_a", "sk_live_a");
    await store.set("agent_b", "sk_live_b");
    await store.delete("agent_a");
    expect(await store.get("agent_a")).toBeUndefined();
    expect(await configKeyStore(openConfigFile(path)).get("agent_b")).toBe("sk_live_b");
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual({
      api_key: "mk_x",
      access_keys: { agent_b: "sk_live_b" },
    });
  });
});
