import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "./config.js";

describe("parseConfig", () => {
  it("defaults to 127.0.0.1:4020 on ./.mercato/mercato.db, not dev, no admin token", () => {
    expect(parseConfig([], {}, "/srv/app")).toEqual({
      port: 4020,
      host: "127.0.0.1",
      dbPath: "/srv/app/.mercato/mercato.db",
      dev: false,
      adminToken: undefined,
      logLevel: "info",
    });
  });

  it("reads environment variables, and flags win over them", () => {
    const env = {
      PORT: "5000",
      HOST: "0.0.0.0",
      MERCATO_DB: "data/m.db",
      MERCATO_DEV: "1",
      MERCATO_ADMIN_TOKEN: "a-very-long-admin-token",
      LOG_LEVEL: "warn",
    };
    expect(parseConfig([], env, "/srv")).toEqual({
      port: 5000,
      host: "0.0.0.0",
      dbPath: "/srv/data/m.db",
      dev: true,
      adminToken: "a-very-long-admin-token",
      logLevel: "warn",
    });
    const flags = ["--port", "6000", "--host", "::1", "--db", "/tmp/x.db", "--log-level", "error"];
    expect(parseConfig(flags, env, "/srv")).toMatchObject({
      port: 6000,
      host: "::1",
      dbPath: "/tmp/x.db",
      logLevel: "error",
    });
    expect(parseConfig(["--dev"], {}).dev).toBe(true);
    expect(parseConfig([], { MERCATO_DEV: "0" }).dev).toBe(false);
  });

  it.each([
    [["--port", "http"], {}, /--port must be a port number/],
    [[], { PORT: "70000" }, /PORT must be a port number/],
    [[], { PORT: "-1" }, /PORT must be a port number/],
    [[], { MERCATO_DEV: "maybe" }, /MERCATO_DEV must be 1 or 0/],
    [[], { MERCATO_ADMIN_TOKEN: "short" }, /MERCATO_ADMIN_TOKEN must be at least 16 characters/],
    [["--log-level", "loud"], {}, /--log-level must be one of/],
    [["--host", "bad host!"], {}, /--host must be a host name/],
    [["--colour"], {}, /Unknown option '--colour'/],
    [["start"], {}, /Unexpected argument 'start'/],
  ] as const)("fails fast with a clear message: %j %j", (argv, env, message) => {
    expect(() => parseConfig(argv, env)).toThrow(ConfigError);
    expect(() => parseConfig(argv, env)).toThrow(message);
  });
});
