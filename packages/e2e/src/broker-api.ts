/** A JSON request to a broker, as a test sends it: the status, headers and parsed body. */
export async function brokerRequest(
  base: string,
  method: string,
  path: string,
  options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.key && { authorization: `Bearer ${options.key}` }),
      ...(options.body !== undefined && { "content-type": "application/json" }),
      ...options.headers,
    },
    ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: test responses are checked field by field.
  return { status: response.status, headers: response.headers, json: (await response.json()) as any };
}
