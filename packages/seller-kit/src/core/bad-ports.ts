/**
 * The ports a `fetch()` refuses to connect to: the Fetch standard's "bad ports" (a `TypeError`,
 * "bad port", in Node's and browsers' fetch alike). A seller reached on one of them still gets the
 * broker's calls (the broker does not use fetch) but no buyer's direct calls.
 */
export const FETCH_BAD_PORTS: ReadonlySet<number> = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104,
  109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515,
  526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049,
  3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** The port of a `Host` header (`host:port`, `[v6]:port`), or undefined when it names none. */
export function hostPort(host: string | null | undefined): number | undefined {
  const port = /:(\d{1,5})$/.exec(host?.trim() ?? "")?.[1];
  return port === undefined ? undefined : Number(port);
}

/**
 * Warns once per port (through `warn`) when the kit is reached on a port `fetch()` refuses: a
 * seller on it gets proxied calls but never a direct one, which is baffling without being told.
 */
export function createBadPortWarning(
  warn: (message: string) => void,
): (host: string | null | undefined) => void {
  const warned = new Set<number>();
  return (host) => {
    const port = hostPort(host);
    if (port === undefined || !FETCH_BAD_PORTS.has(port) || warned.has(port)) return;
    warned.add(port);
    warn(
      `mercato seller kit: this endpoint is reached on port ${port}, which fetch() refuses to connect to ` +
        `(it is on the Fetch standard's list of blocked "bad ports"): calls through the broker arrive, ` +
        `but buyers in direct mode (the SDK) cannot reach it. Listen on another port, e.g. 8080, and ` +
        `register that endpoint.`,
    );
  };
}
