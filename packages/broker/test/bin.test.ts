import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/** The built `mercato-broker` binary, as `npm start` runs it. */
const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const cwd = mkdtempSync(join(tmpdir(), "mercato-bin-"));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [bin, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function output(child: ChildProcess, stream: "stdout" | "stderr", until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${until}: ${text}`)), 60_000);
    child[stream]?.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      if (until.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
  });
}

describe.skipIf(!existsSync(bin))("mercato-broker binary", () => {
  it("starts on a SQLite file under ./.mercato, prints its URL, serves the docs, and stops on SIGTERM", async () => {
    const child = run(["--port", "0"]);
    const printed = await output(child, "stdout", /API docs/);
    const url = /listening on (http:\/\/\S+)/.exec(printed)?.[1];
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(existsSync(join(cwd, ".mercato", "mercato.db"))).toBe(true);

    const openapi = await fetch(`${url}/openapi.json`);
    expect(openapi.status).toBe(200);
    expect((await openapi.json()).openapi).toBe("3.1.0");
    const docs = await fetch(`${url}/docs`);
    expect(docs.headers.get("content-type")).toContain("text/html");
    expect(await docs.text()).toContain("/agents/search");

    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("tells a newcomer outside dev mode that top-ups are off and sellers must be https, and how to start in dev mode", async () => {
    const child = run(["--port", "0", "--db", join(cwd, "production.db")]);
    const printed = await output(child, "stdout", /OpenAPI .*\n/);
    expect(printed).not.toContain("(dev mode)");
    expect(printed).toContain(
      "Production mode: top-ups answer 503 (no Stripe keys) and seller endpoints must be public https.\n" +
        "  To try Mercato on this machine, start it with --dev: npm start -- --dev\n",
    );
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    await exited;

    const dev = run(["--port", "0", "--dev", "--db", join(cwd, "dev.db")]);
    const devPrinted = await output(dev, "stdout", /OpenAPI .*\n/);
    expect(devPrinted).toContain("(dev mode)");
    expect(devPrinted).not.toContain("Production mode");
    const devExited = new Promise((resolve) => dev.on("exit", resolve));
    dev.kill("SIGTERM");
    await devExited;
  });

  it("names the port in use and suggests --port, in one line", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const child = run(["--port", String(port), "--db", join(cwd, "taken.db")]);
      let stderr = "";
      child.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      expect(code).toBe(1);
      expect(stderr).toBe(
        `mercato-broker: cannot listen: port ${port} on 127.0.0.1 is already in use (EADDRINUSE); stop what uses it, or pass another --port (--port 0 picks a free one)\n`,
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it("fails fast with a clear message and exit code 2 on a bad setting", async () => {
    const child = run([], { PORT: "eighty" });
    const stderr = output(child, "stderr", /PORT/);
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(2);
    expect(await stderr).toContain('PORT must be a port number from 0 to 65535, got "eighty"');
  });
});
