import { lookup } from "node:dns/promises";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { MercatoError } from "@mercato/protocol";

/** Resolves a host name to its addresses (injected so tests need no DNS). */
export type ResolveHost = (hostname: string) => Promise<string[]>;

/** The system resolver, with a time limit. */
export const systemResolveHost: ResolveHost = async (hostname) => {
  const timeout = new Promise<never>((_, reject) => {
    setTimeout(() => reject(new Error(`DNS lookup of ${hostname} timed out`)), 3000).unref();
  });
  const addresses = await Promise.race([lookup(hostname, { all: true, verbatim: true }), timeout]);
  return addresses.map((entry) => entry.address);
};

/**
 * Addresses a seller endpoint may never point at outside dev mode: loopback, private, shared,
 * link-local (cloud metadata lives at 169.254.169.254), documentation, multicast, reserved, and
 * IPv6 forms that embed an IPv4 address. (BlockList checks IPv4-mapped IPv6 addresses such as
 * `::ffff:127.0.0.1` against the IPv4 subnets.)
 */
const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["64:ff9b::", 96],
  ["64:ff9b:1::", 48],
  ["100::", 64],
  ["2001::", 23],
  ["2001:db8::", 32],
  ["2002::", 16],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, "ipv6");
}

const NON_PUBLIC_NAMES = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$/i;

/** True when `address` (IPv4 or IPv6) is a public unicast address. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return !NON_PUBLIC.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** Options of {@link checkSellerEndpoint}. */
export interface EndpointPolicy {
  /** Dev mode: http and any address are allowed, for sellers on this machine. */
  dev: boolean;
  resolveHost: ResolveHost;
}

/**
 * Checks that a seller endpoint is one the broker may call: https, no credentials in the URL, and
 * a host whose every address is public. Dev mode allows http and local addresses.
 *
 * @throws MercatoError `INVALID_ENDPOINT` saying what is wrong.
 */
export async function checkSellerEndpoint(endpoint: string, policy: EndpointPolicy): Promise<void> {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch (cause) {
    throw invalid(endpoint, "is not a URL", cause);
  }
  if (url.protocol !== "https:" && !(policy.dev && url.protocol === "http:")) {
    throw invalid(
      endpoint,
      policy.dev ? "must use http or https" : "must use https (http is allowed only in dev mode)",
    );
  }
  if (url.username || url.password) throw invalid(endpoint, "must not contain credentials");
  if (url.hash) throw invalid(endpoint, "must not contain a #fragment");
  if (policy.dev) return;

  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (isIP(host) !== 0) {
    if (!isPublicAddress(host)) throw invalid(endpoint, `points at a non-public address (${host})`);
    return;
  }
  if (NON_PUBLIC_NAMES.test(host) || !host.includes(".")) {
    throw invalid(endpoint, `has a host name that is not public (${host})`);
  }
  let addresses: string[];
  try {
    addresses = await policy.resolveHost(host);
  } catch (cause) {
    throw invalid(endpoint, `has a host that does not resolve (${host})`, cause);
  }
  if (addresses.length === 0) throw invalid(endpoint, `has a host that does not resolve (${host})`);
  const blocked = addresses.find((address) => !isPublicAddress(address));
  if (blocked !== undefined) {
    throw invalid(endpoint, `resolves to a non-public address (${host} → ${blocked})`);
  }
}

function invalid(endpoint: string, reason: string, cause?: unknown): MercatoError {
  return new MercatoError("INVALID_ENDPOINT", `api_endpoint ${reason}`, {
    details: { api_endpoint: endpoint },
    cause,
  });
}

/**
 * A DNS lookup for outgoing connections (seller calls, health checks) that fails with
 * `ENOTPUBLIC` unless every address of the host is public. Used at connect time, it refuses an
 * endpoint re-pointed at a private address after registration (DNS rebinding).
 */
export function publicOnlyLookup(resolveHost: ResolveHost): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    resolveHost(hostname).then(
      (addresses) => {
        const blocked = addresses.find((address) => !isPublicAddress(address));
        if (addresses.length === 0 || blocked !== undefined) {
          const error = Object.assign(
            new Error(
              blocked === undefined
                ? `${hostname} does not resolve`
                : `${hostname} resolves to a non-public address (${blocked})`,
            ),
            { code: "ENOTPUBLIC" },
          );
          callback(error, "", 0);
          return;
        }
        const entries = addresses.map((address) => ({ address, family: isIP(address) }));
        if (lookupOptions.all) (callback as (e: null, a: typeof entries) => void)(null, entries);
        else callback(null, entries[0]?.address ?? "", entries[0]?.family ?? 4);
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, "", 0),
    );
  };
}
