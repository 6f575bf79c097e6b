/** A fresh request id, `req_` and 32 hex digits: the `x-request-id` of an answer or of a request to the broker. */
export function newRequestId(): string {
  return `req_${crypto.randomUUID().replaceAll("-", "")}`;
}
