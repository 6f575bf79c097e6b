/**
 * A mistake in how the command was called (a flag, a file, an environment variable): printed as
 * `mercato: <message>` and answered with exit status 2, never with a stack.
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
