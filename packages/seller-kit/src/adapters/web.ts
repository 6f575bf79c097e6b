import { MercatoError } from "@mercato/protocol";
import type { SellerCore, SellerKitResponse } from "../core/index.js";
import { announcesTooMuch, EMPTY_BODY, joinChunks, TOO_LARGE } from "./body.js";

/** A Web-standard handler: what Deno.serve, Bun.serve, Cloudflare Workers and Hono take. */
export type SellerFetchHandler = (request: Request) => Promise<Response>;

/** The kit's core behind a Web-standard `(request) => Promise<Response>`. */
export function createFetchHandler(core: SellerCore): SellerFetchHandler {
  return async (request) => {
    const method = request.method;
    let body = EMPTY_BODY;
    if (method === "POST") {
      let read: Uint8Array | typeof TOO_LARGE;
      try {
        read = await readWebBody(request, core.maxBodyBytes);
      } catch (cause) {
        return toWebResponse(
          core.fail(
            new MercatoError("VALIDATION_ERROR", "The request body could not be read", { cause }),
            "request",
          ),
        );
      }
      if (read === TOO_LARGE) return toWebResponse(core.tooLarge());
      body = read;
    }
    const answer = await core.handle({
      method,
      target: targetOf(request.url),
      headers: (name) => request.headers.get(name),
      body,
      signal: request.signal,
    });
    return toWebResponse(answer);
  };
}

/** Path and query of an absolute URL, as a request line carries them. */
export function targetOf(url: string): string {
  const scheme = url.indexOf("//");
  const start = url.indexOf("/", scheme === -1 ? 0 : scheme + 2);
  if (start === -1) return "/";
  const hash = url.indexOf("#", start);
  return hash === -1 ? url.slice(start) : url.slice(start, hash);
}

async function readWebBody(request: Request, limit: number): Promise<Uint8Array | typeof TOO_LARGE> {
  if (announcesTooMuch(request.headers.get("content-length"), limit)) return TOO_LARGE;
  if (!request.body) return EMPTY_BODY;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return TOO_LARGE;
    }
    chunks.push(value);
  }
  return joinChunks(chunks, size);
}

function toWebResponse(answer: SellerKitResponse): Response {
  return new Response(answer.body, { status: answer.status, headers: answer.headers });
}
