import { isMercatoError } from "@mercato/protocol";
import { describe, expect, it } from "vitest";
import {
  checkSellerEndpoint,
  isPublicAddress,
  type ResolveHost,
} from "../../src/platform/endpoint-policy.js";

const resolveTo =
  (addresses: string[]): ResolveHost =>
  async () =>
    addresses;

const refusal = async (
  endpoint: string,
  resolveHost: ResolveHost = resolveTo(["93.184.215.14"]),
  dev = false,
) => {
  const error = await checkSellerEndpoint(endpoint, { dev, resolveHost }).then(
    () => undefined,
    (e: unknown) => e,
  );
  return isMercatoError(error) ? error.code : error;
};

describe("isPublicAddress", () => {
  it.each([
    "127.0.0.1",
    "127.255.0.1",
    "10.0.0.1",
    "172.16.5.4",
    "172.31.255.255",
    "192.168.0.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "198.18.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:a9fe:a9fe",
    "64:ff9b::a9fe:a9fe",
    "2002:7f00:1::",
    "2001:db8::1",
    "ff02::1",
    "not-an-ip",
  ])("refuses %s", (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  // Every IPv6 form that carries an IPv4 address is judged by the IPv4 address it carries.
  it.each([
    ["IPv4-mapped", "::ffff:127.0.0.1"],
    ["IPv4-mapped, long form", "0:0:0:0:0:ffff:7f00:1"],
    ["IPv4-compatible", "::127.0.0.1"],
    ["IPv4-compatible", "::7f00:1"],
    ["IPv4-compatible", "::10.0.0.1"],
    ["IPv4-compatible", "::169.254.169.254"],
    ["IPv4-compatible, long form", "0:0:0:0:0:0:a9fe:a9fe"],
    ["IPv4-translated", "::ffff:0:127.0.0.1"],
    ["IPv4-translated", "::ffff:0:7f00:1"],
    ["IPv4-translated", "::ffff:0:192.168.1.1"],
    ["IPv4-translated", "::ffff:0:a9fe:a9fe"],
    ["NAT64", "64:ff9b::127.0.0.1"],
    ["NAT64", "64:ff9b::10.0.0.1"],
    ["NAT64", "64:ff9b::a9fe:a9fe"],
    ["NAT64 local-use", "64:ff9b:1::7f00:1"],
    ["NAT64 local-use", "64:ff9b:1:5db8:d70e::"],
    ["6to4", "2002:7f00:1::"],
    ["6to4", "2002:a00:1::1"],
    ["6to4", "2002:a9fe:a9fe:1:2:3:4:5"],
    ["6to4, upper case", "2002:C0A8:0101::1"],
    ["IPv4-compatible, zone id", "::7f00:1%eth0"],
    ["reserved ::/8, no IPv4 form", "::ffff:1:2:3"],
    ["reserved ::/8, no IPv4 form", "64:ff9b:2::808:808"],
  ])("refuses %s %s", (_form, address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each([
    "93.184.215.14",
    "8.8.8.8",
    "1.1.1.1",
    "172.32.0.1",
    "2606:4700:4700::1111",
    "::ffff:93.184.215.14",
    "::93.184.215.14",
    "::ffff:0:93.184.215.14",
    "64:ff9b::93.184.215.14",
    "64:ff9b::808:808",
    "2002:5db8:d70e::1",
  ])("accepts %s", (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });
});

describe("checkSellerEndpoint", () => {
  it("accepts an https endpoint whose host resolves only to public addresses", async () => {
    expect(await refusal("https://seller.example.com/agent")).toBeUndefined();
    expect(await refusal("https://93.184.215.14:8443/agent")).toBeUndefined();
  });

  it("refuses http, credentials, local names and non-public literals", async () => {
    expect(await refusal("http://seller.example.com/agent")).toBe("INVALID_ENDPOINT");
    expect(await refusal("https://user:secret@seller.example.com/agent")).toBe("INVALID_ENDPOINT");
    expect(await refusal("https://localhost/agent")).toBe("INVALID_ENDPOINT");
    expect(await refusal("https://printer.local/agent")).toBe("INVALID_ENDPOINT");
    expect(await refusal("https://metadata.google.internal/agent")).toBe("INVALID_ENDPOINT");
    expect(await refusal("https://intranet/agent")).toBe("INVALID_ENDPOINT");
    expect(await refusal("https://[::1]/agent")).toBe("INVALID_ENDPOINT");
    expect(await refusal("https://0x7f000001/agent")).toBe("INVALID_ENDPOINT");
    expect(await refusal("https://2130706433/agent")).toBe("INVALID_ENDPOINT");
  });

  it("refuses every IPv6 literal that carries a non-public IPv4 address", async () => {
    for (const host of [
      "[::127.0.0.1]",
      "[::ffff:0:127.0.0.1]",
      "[64:ff9b::127.0.0.1]",
      "[64:ff9b::169.254.169.254]",
      "[2002:7f00:1::1]",
      "[::ffff:10.0.0.1]",
    ]) {
      expect(await refusal(`https://${host}/agent`), host).toBe("INVALID_ENDPOINT");
    }
  });

  it("refuses a name that resolves to an IPv6 form of a private IPv4 address", async () => {
    for (const address of ["::7f00:1", "::ffff:0:a00:1", "64:ff9b::a9fe:a9fe", "2002:c0a8:101::1"]) {
      expect(await refusal("https://seller.example.com/agent", resolveTo([address])), address).toBe(
        "INVALID_ENDPOINT",
      );
    }
  });

  it("refuses a public-looking name that resolves to a private address (DNS rebinding to the inside)", async () => {
    expect(await refusal("https://evil.example.com/agent", resolveTo(["93.184.215.14", "10.0.0.5"]))).toBe(
      "INVALID_ENDPOINT",
    );
    expect(await refusal("https://evil.example.com/agent", resolveTo(["169.254.169.254"]))).toBe(
      "INVALID_ENDPOINT",
    );
  });

  it("refuses a host that does not resolve", async () => {
    const failing: ResolveHost = async () => {
      throw new Error("ENOTFOUND");
    };
    expect(await refusal("https://nowhere.example.com/agent", failing)).toBe("INVALID_ENDPOINT");
    expect(await refusal("https://nowhere.example.com/agent", resolveTo([]))).toBe("INVALID_ENDPOINT");
  });

  it("allows http and local sellers in dev mode, never other schemes", async () => {
    const never: ResolveHost = async () => {
      throw new Error("dev mode must not resolve");
    };
    expect(await refusal("http://127.0.0.1:4100/agent", never, true)).toBeUndefined();
    expect(await refusal("http://localhost:4100/agent", never, true)).toBeUndefined();
    expect(await refusal("ftp://127.0.0.1/agent", never, true)).toBe("INVALID_ENDPOINT");
  });
});
