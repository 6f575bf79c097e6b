/** Test support (not part of the package): servers on a loopback port and signed requests to them. */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { callBody, type SignOptions, signedHeaders, type TestBrokerKey } from "./broker-keys.js";

/** Signature headers stamped with the real clock, for a kit that runs on it. */
export function liveHeaders(options: SignOptions): Promise<Record<string, string>> {
  return signedHeaders({ timestamp: Math.floor(Date.now() / 1000), ...options });
}

/** Starts `server` on 127.0.0.1 and a free port; returns its base URL and a closer. */
export async function listen(server: Server): Promise<{ url: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

export interface SignedRequestOptions {
  key: TestBrokerKey;
  callId: string;
  /** The request target, signed as is. Default `/agent`. */
  path?: string;
  input?: unknown;
  timeoutMs?: number;
  body?: string;
  contentType?: string | null;
  signal?: AbortSignal;
}

/** POSTs a broker-signed call to `baseUrl + path` over the network, like the broker does. */
export async function postSigned(baseUrl: string, options: SignedRequestOptions): Promise<Response> {
  const path = options.path ?? "/agent";
  const body = options.body ?? callBody(options.callId, options.input, options.timeoutMs);
  const headers: Record<string, string> = await liveHeaders({
    key: options.key,
    callId: options.callId,
    body,
    path,
  });
  const contentType = options.contentType === undefined ? "application/json" : options.contentType;
  if (contentType !== null) headers["content-type"] = contentType;
  return fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers,
    body: contentType === null ? new TextEncoder().encode(body) : body,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}
