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
 * link-local (cloud metadata lives at 169.254.169.254), documentation, multicast and reserved.
 * An IPv6 address that carries an IPv4 address (IPv4-mapped, IPv4-compatible, IPv4-translated,
 * NAT64, 6to4) is judged by the IPv4 address it carries, so the IPv6 list needs none of those.
 * Two lists, because a BlockList also checks an IPv4 address against its IPv6 subnets.
 */
const NON_PUBLIC_IPV4 = new BlockList();
const NON_PUBLIC_IPV6 = new BlockList();
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
  NON_PUBLIC_IPV4.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  // Reserved, after the forms that carry an IPv4 address are read out of it. This includes
  // local-use NAT64 (64:ff9b:1::/48), where the operator chooses where the IPv4 address sits.
  ["::", 8],
  ["100::", 64],
  // Teredo (2001::/32) hides its IPv4 addresses obfuscated; the rest of 2001::/23 is reserved.
  ["2001::", 23],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
] as const) {
  NON_PUBLIC_IPV6.addSubnet(network, prefix, "ipv6");
}

const NON_PUBLIC_NAMES = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$/i;

/** True when `address` (IPv4 or IPv6) is a public unicast address. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !NON_PUBLIC_IPV4.check(address, "ipv4");
  if (family !== 6) return false;
  const groups = ipv6Groups(address);
  if (groups === undefined) return false;
  const ipv4 = embeddedIPv4(groups);
  if (ipv4 !== undefined) return !NON_PUBLIC_IPV4.check(ipv4, "ipv4");
  return !NON_PUBLIC_IPV6.check(groups.map((group) => group.toString(16)).join(":"), "ipv6");
}

/** The first six groups of the IPv6 prefixes whose last 32 bits are an IPv4 address. */
const IPV4_CARRYING_PREFIXES: ReadonlyArray<readonly number[]> = [
  [0, 0, 0, 0, 0, 0xffff], // IPv4-mapped ::ffff:0:0/96
  [0, 0, 0, 0, 0, 0], // IPv4-compatible ::/96 (:: and ::1 too, which land in 0.0.0.0/8)
  [0, 0, 0, 0, 0xffff, 0], // IPv4-translated ::ffff:0:0:0/96
  [0x64, 0xff9b, 0, 0, 0, 0], // NAT64 64:ff9b::/96
];

/** The IPv4 address that an IPv6 address reaches through one of the forms that carry one. */
function embeddedIPv4(groups: readonly number[]): string | undefined {
  const dotted = (high = 0, low = 0) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  // 6to4 2002::/16: the site's IPv4 address follows the prefix.
  if (groups[0] === 0x2002) return dotted(groups[1], groups[2]);
  const carries = IPV4_CARRYING_PREFIXES.some((prefix) => prefix.every((group, i) => groups[i] === group));
  return carries ? dotted(groups[6], groups[7]) : undefined;
}

/** The eight 16-bit groups of an IPv6 address (a zone id is ignored), or undefined if it is not one. */
export function ipv6Groups(address: string): number[] | undefined {
  let text = address.replace(/%.*$/, "");
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string | undefined) =>
    part === undefined || part === "" ? [] : part.split(":").map((group) => Number.parseInt(group, 16));
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  const groups =
    halves.length === 2 ? [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  if (groups.length !== 8 || groups.some((group) => !(group >= 0 && group <= 0xffff))) return undefined;
  return groups;
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
