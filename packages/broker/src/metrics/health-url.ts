/** `GET {api_endpoint}/health`: the path gets `/health`, the query is kept. */
export function healthUrl(apiEndpoint: string): string {
  const url = new URL(apiEndpoint);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/health`;
  url.hash = "";
  return url.href;
}

/** The health URL of an endpoint, or undefined when it is not a URL. */
export function healthUrlOf(apiEndpoint: string): string | undefined {
  try {
    return healthUrl(apiEndpoint);
  } catch {
    return undefined;
  }
}
