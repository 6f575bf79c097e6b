/**
 * `GET {api_endpoint}/health`: the path gets `/health`, the query is kept. The health checker
 * calls it; alerts name it.
 */
export function healthUrl(apiEndpoint: string): string {
  const url = new URL(apiEndpoint);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/health`;
  url.hash = "";
  return url.href;
}
