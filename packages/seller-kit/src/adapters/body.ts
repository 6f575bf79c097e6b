/** Marks a body that passed `maxBodyBytes` while being read. */
export const TOO_LARGE = Symbol("too large");

export const EMPTY_BODY: Uint8Array = new Uint8Array(0);

/** True when a `content-length` header announces more than `limit` bytes. */
export function announcesTooMuch(contentLength: string | null | undefined, limit: number): boolean {
  if (!contentLength) return false;
  const length = Number(contentLength);
  return Number.isFinite(length) && length > limit;
}

/** The chunks as one array; a single chunk is returned as is, without a copy. */
export function joinChunks(chunks: readonly Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  if (chunks.length === 0) return EMPTY_BODY;
  const joined = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined;
}
