/**
 * How deeply a JSON value may nest arrays and objects: a buyer's `input` and a seller's `output`
 * (`{"a": [1]}` nests 2 levels). Deeper values are refused before anything is charged, because
 * serialising them can overflow the stack of the process that handles them.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether `value` nests arrays and objects more than `maxDepth` levels deep. The walk keeps its
 * own stack instead of recursing, so that the check cannot overflow on the values it refuses, and
 * it ends as soon as the limit is passed (a cyclic value counts as too deep).
 *
 * @example
 * exceedsJsonDepth({ a: [1] }, 1); // true
 */
export function exceedsJsonDepth(value: unknown, maxDepth: number = MAX_JSON_DEPTH): boolean {
  // Containers still to look into, and how deep each one sits (1 for `value` itself).
  const pending: unknown[] = [value];
  const depths: number[] = [1];
  while (pending.length > 0) {
    const current = pending.pop();
    const depth = depths.pop() as number;
    if (current === null || typeof current !== "object") continue;
    if (depth > maxDepth) return true;
    if (Array.isArray(current)) {
      for (const child of current) {
        if (child !== null && typeof child === "object") {
          pending.push(child);
          depths.push(depth + 1);
        }
      }
      continue;
    }
    // for…in rather than Object.values: no array to allocate for each object on the invoke path.
    for (const key in current) {
      const child = Object.hasOwn(current, key) ? (current as Record<string, unknown>)[key] : undefined;
      if (child !== null && typeof child === "object") {
        pending.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}
