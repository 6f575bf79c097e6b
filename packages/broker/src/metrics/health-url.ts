import { healthUrl } from "../platform/health-url.js";

export { healthUrl };

/** The health URL of an endpoint, or undefined when it is not a URL. */
export function healthUrlOf(apiEndpoint: string): string | undefined {
  try {
    return healthUrl(apiEndpoint);
  } catch {
    return undefined;
  }
}
