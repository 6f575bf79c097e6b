/**
 * Splits free text into search words: letters and digits only, lower-cased, at most 8 words, so
 * that no user input reaches a full-text query's syntax.
 */
export function searchWords(text: string): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words)].slice(0, 8);
}
