// Runs the BUILT demo (`dist/demo.js`, built by `npm run build` before the tests) as a subprocess:
// a real broker, seven real seller processes and the buyer agent, on loopback ports.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseUsd, splitCharge } from "@mercato/protocol";
import { expect, it } from "vitest";

const DEMO = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "demo.js");

function runDemo(): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO, "--calls", "12"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.once("error", reject);
    child.once("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/** Resolves true when nothing accepts connections at `url` any more. */
async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return false;
  } catch {
    return true;
  }
}

it("runs the whole market, pays the best seller per success, audits clean and leaves nothing running", async () => {
  expect(existsSync(DEMO), `${DEMO} is missing: run \`npm run build -w @mercato/examples\` first`).toBe(true);
  const { status, stdout, stderr } = await runDemo();
  expect(status, `demo failed:\n${stdout}\n${stderr}`).toBe(0);

  // Every listing was registered with its kit's schemas; one is shown as `mercato agents show` prints it.
  expect(stdout).toMatch(/\n\s+Input\n\s+FIELD\s+TYPE\s+REQUIRED\s+DESCRIPTION\n\s+topic\s+string/);
  expect(stdout).toMatch(/\n\s+summary\s+string \(≥ 1 chars\)\s+yes\s+Two or three sentences/);

  // The buyer chose the reliable summarizer by cost per success, though the flaky one is cheaper.
  expect(stdout).toMatch(/Crypto News Digest is cheaper \(\$0\.012\) but succeeds \d+\.\d% of the time/);
  expect(stdout).toContain("Choosing Crypto News Summarizer Pro: the lowest cost per success.");
  expect(stdout).toMatch(/Paid \$0\.24 for 12 of 12 calls/);

  // The buyer's charges: 12 calls at 0.020.
  const buyer = /buyer charges: (\d+) charges, total (\d+\.\d{6}) USD/.exec(stdout);
  expect(buyer?.slice(1)).toEqual(["12", "0.240000"]);

  // Seller earnings = charges − fees, each fee floor(charge × 10%), as the table lists them.
  const earnings = /seller earnings: (\d+\.\d{6}) USD = charges (\d+\.\d{6}) − fees (\d+\.\d{6})/.exec(
    stdout,
  );
  expect(earnings).not.toBeNull();
  const [earned, charged, fees] = (earnings?.slice(1) ?? []).map((amount) => parseUsd(amount));
  expect(earned).toBe((charged ?? 0n) - (fees ?? 0n));
  const rows = [
    ...stdout.matchAll(/^\s+\$(\d+\.\d+)\s+\$\d+\.\d+\s+(\d+)\s+\$(\d+\.\d+)\s+\$(\d+\.\d+)\s/gm),
  ];
  expect(rows.length).toBeGreaterThanOrEqual(6);
  let feeTotal = 0n;
  let chargeTotal = 0n;
  for (const [, price = "", count = "", rowCharged = "", rowFees = ""] of rows) {
    const expectedFees = splitCharge(parseUsd(price)).fee * BigInt(count);
    expect(parseUsd(rowFees)).toBe(expectedFees);
    expect(parseUsd(rowCharged)).toBe(parseUsd(price) * BigInt(count));
    feeTotal += expectedFees;
    chargeTotal += parseUsd(rowCharged);
  }
  expect(feeTotal).toBe(fees);
  expect(chargeTotal).toBe(charged);

  // The README's client.call() snippet ends at a summarizer with a record, with a real summary.
  expect(stdout).toMatch(
    /answered by Crypto News (Summarizer Pro for \$0\.020|Digest for \$0\.012):\n\s+"[^"\n]{20,}"/,
  );
  // The brand-new Lite shows "new", not a made-up success rate, and ranks below the Pro.
  const ranking = stdout.slice(stdout.indexOf("Ranking (crypto"));
  expect(ranking).toMatch(/Crypto News Summarizer Lite\s+\$0\.015\s+0\s+new\s/);
  expect(ranking.indexOf("Crypto News Summarizer Pro")).toBeLessThan(
    ranking.indexOf("Crypto News Summarizer Lite"),
  );

  expect(stdout).toMatch(/audit: clean/);
  expect(stdout).not.toContain("Problems:");

  // Nothing is left: the broker and every seller refuse connections, the temporary directory is gone.
  const broker = /broker listening on (http:\/\/\S+)/.exec(stdout)?.[1];
  const sellers = [
    ...new Set([...stdout.matchAll(/(http:\/\/127\.0\.0\.1:\d+\/[a-z-]+)\s*$/gm)].map((match) => match[1])),
  ];
  expect(broker).toBeDefined();
  expect(sellers).toHaveLength(7);
  for (const url of [broker, ...sellers]) expect(await refused(`${url}/health`), url).toBe(true);
  const dir = /removed (\S+)\.$/m.exec(stdout)?.[1];
  expect(dir !== undefined && !existsSync(dir)).toBe(true);
}, 300_000);
