import v8 from "node:v8";

/** The flag of the linear-time engine (a constant: a regex literal with it would not even parse without the V8 flag). */
const LINEAR = "l";
let available: boolean | undefined;

/**
 * Whether V8's linear-time regular expression engine (the `l` flag) can be used. It is behind a V8
 * flag, `--enable-experimental-regexp-engine`, which this turns on the first time: the flag only
 * makes the `l` flag known, and changes no other regular expression of the process.
 */
export function linearRegExpAvailable(): boolean {
  if (available === undefined) {
    available = tryLinear();
    if (!available) {
      v8.setFlagsFromString("--enable-experimental-regexp-engine");
      available = tryLinear();
    }
  }
  return available;
}

function tryLinear(): boolean {
  try {
    new RegExp("a", LINEAR);
    return true;
  } catch {
    return false;
  }
}

/**
 * A contract's `pattern` as a regular expression that runs in time linear in the string: no
 * catastrophic backtracking, whatever the pattern. Patterns that need backtracking (backreferences,
 * lookaround) or Unicode mode (`\p{…}`) cannot be built.
 *
 * @throws SyntaxError for a pattern that is not valid or cannot run in linear time.
 */
export function linearRegExp(pattern: string): RegExp {
  if (!linearRegExpAvailable()) {
    throw new SyntaxError("this broker's JavaScript engine cannot check patterns in linear time");
  }
  return new RegExp(pattern, LINEAR);
}

/**
 * Refuses a pattern that means something else outside Unicode mode, where the linear-time engine
 * runs it: it must be valid in Unicode mode (no stray escapes such as `\-` outside a class), with
 * no `\p{…}` class or `\u{…}` escape (outside Unicode mode, `\p{L}` is the letters "p{L}").
 *
 * @throws SyntaxError saying why.
 */
export function assertSameWithoutUnicode(pattern: string): void {
  // Compiling does not run the pattern: no backtracking happens here.
  new RegExp(pattern, "u");
  if (/\\[pPu]\{/.test(pattern.replaceAll("\\\\", ""))) {
    throw new SyntaxError("\\p{…}, \\P{…} and \\u{…} are not supported");
  }
}

/**
 * Whether a pattern runs in linear time on V8's usual backtracking engine too, which is some 30
 * times faster than the linear-time one: anchored at the start (`^`, so one starting position),
 * no group, alternation or backreference, and at most one quantifier that leaves a choice (`*`,
 * `+`, `?`, `{m,n}`, `{m,}`; an exact `{n}` leaves none). The engine then backtracks over that one
 * quantifier's extent at most, each step matching the rest of the pattern once.
 */
export function backtracksLinearly(pattern: string): boolean {
  if (!pattern.startsWith("^")) return false;
  let choices = 0;
  for (let i = 1; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      const next = pattern[i + 1] ?? "";
      // Backreferences (\1, \k<name>) and anything unusual: leave it to the linear engine.
      if (/[1-9k]/.test(next)) return false;
      i++;
    } else if (c === "[") {
      i++;
      while (i < pattern.length && pattern[i] !== "]") i += pattern[i] === "\\" ? 2 : 1;
      if (i >= pattern.length) return false;
    } else if (c === "(" || c === ")" || c === "|") {
      return false;
    } else if (c === "*" || c === "+" || c === "?") {
      choices++;
      if (pattern[i + 1] === "?") i++;
    } else if (c === "{") {
      const bound = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
      if (!bound) return false;
      if (bound[2] !== undefined && bound[3] !== bound[1]) choices++;
      i += bound[0].length - 1;
      if (pattern[i + 1] === "?") i++;
    }
  }
  return choices <= 1;
}

/**
 * Ajv's `code.regExp` engine: a pattern that backtracks linearly on V8's usual engine (see
 * {@link backtracksLinearly}), every other on the linear-time engine (ajv passes no `u` flag).
 */
export const ajvLinearRegExp = Object.assign(
  (pattern: string, _flags: string) =>
    backtracksLinearly(pattern) ? new RegExp(pattern) : linearRegExp(pattern),
  {
    code: "linearRegExp",
  },
);
