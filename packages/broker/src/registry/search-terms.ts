/**
 * Splits free text into search words: letters and digits only, lower-cased, at most 8 words, so
 * that no user input reaches a full-text query's syntax.
 */
export function searchWords(text: string): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words)].slice(0, 8);
}

/**
 * The combining diacritics SQLite's unicode61 tokenizer counts as part of a word and then drops
 * (U+0300 to U+0331, not all of them).
 */
const DIACRITICS =
  "\\u0300-\\u0304\\u0306-\\u030c\\u030f\\u0311\\u031b\\u0323-\\u0328\\u032d\\u032e\\u0330\\u0331";
const TOKEN_RUN = new RegExp(`[\\p{L}\\p{N}\\p{Co}\\p{Cn}${DIACRITICS}]+`, "gu");
const DIACRITIC = new RegExp(`[${DIACRITICS}]`, "u");
const ASCII = /^[\0-\x7f]*$/;
/** A Latin letter with diacritics, decomposed: folded to the bare letter. */
const LATIN_WITH_MARKS = /^[a-z]\p{M}+$/u;
/** Letters unicode61 lower-cases but neither case-folds further nor strips: ı, Ǡ, ǡ. */
const KEPT = new Set([0x131, 0x1e0, 0x1e1]);

/** The longest token a PostgreSQL tsvector or tsquery takes, in UTF-8 bytes. */
export const MAX_TOKEN_BYTES = 2047;

/**
 * The tokens full-text search indexes `text` by, as SQLite's FTS5 `unicode61 remove_diacritics 2`
 * tokenizer makes them: runs of letters, digits and private-use or unassigned code points (every
 * other character separates), case-folded, with diacritics removed from Latin letters ("Déjà-vu" →
 * "deja", "vu"). The PostgreSQL store indexes these, so that both stores find the same agents for
 * the same words. Differences left: SQLite knows Unicode 6.1, so characters assigned since (newer
 * emoji and symbols, which it takes as word characters) and newer case pairs (Cherokee) differ.
 * Distinct tokens, each cut to {@link MAX_TOKEN_BYTES}.
 */
export function searchTokens(text: string): string[] {
  const tokens = new Set<string>();
  for (const run of text.match(TOKEN_RUN) ?? []) {
    const token = ASCII.test(run) ? run.toLowerCase() : Array.from(run, foldCharacter).join("");
    if (token !== "") tokens.add(truncateUtf8(token, MAX_TOKEN_BYTES));
  }
  return [...tokens];
}

function foldCharacter(character: string): string {
  const code = character.codePointAt(0) as number;
  if (DIACRITIC.test(character)) return "";
  const lower = character.toLowerCase();
  if (KEPT.has(code)) return lower;
  // Case folding beyond lower case (ς → σ, ſ → s, µ → μ), where it stays one character.
  const upperLower = character.toUpperCase().toLowerCase();
  const folded = upperLower.length === lower.length && [...upperLower].length === 1 ? upperLower : lower;
  const decomposed = folded.normalize("NFD");
  return LATIN_WITH_MARKS.test(decomposed) ? (decomposed[0] as string) : folded;
}

/** `text` cut to at most `bytes` UTF-8 bytes, at a character boundary. */
function truncateUtf8(text: string, bytes: number): string {
  if (text.length * 3 <= bytes || Buffer.byteLength(text) <= bytes) return text;
  let end = 0;
  let used = 0;
  for (const character of text) {
    used += Buffer.byteLength(character);
    if (used > bytes) break;
    end += character.length;
  }
  return text.slice(0, end);
}
