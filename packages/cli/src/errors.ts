/**
 * A mistake in how the command was called (a flag, a file, an environment variable): printed as
 * `mercato: <message>` and answered with exit status 2, never with a stack.
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * A broker that could not listen (the port is taken, privileged, or the address is not this
 * machine's): printed as `mercato: cannot listen: <message>` with exit status 1, never with a stack.
 */
export class ListenError extends Error {
  override readonly name = "ListenError";
}
