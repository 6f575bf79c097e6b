// What both stores compute the same way around their metric buckets, by responsibility: the
// buckets and windows, the buyers' weights, and the ranking figures.
export * from "./buyer-weights.js";
export * from "./metrics-buckets.js";
export * from "./ranking-figures.js";
