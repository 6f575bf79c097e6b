import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { MAX_TOKEN_BYTES, searchTokens, searchWords } from "../../src/registry/search-terms.js";

// SQLite's FTS5 tokenizer, as the SQLite store's migration 1 configures it: the reference the
// PostgreSQL store's tokens must agree with.
const db = new Database(":memory:");
db.exec(`
  CREATE VIRTUAL TABLE docs USING fts5 (text, tokenize = 'unicode61 remove_diacritics 2');
  CREATE VIRTUAL TABLE terms USING fts5vocab (docs, 'instance');
`);
afterAll(() => db.close());

/** The distinct tokens FTS5 makes of each text, in order of first appearance. */
function sqliteTokens(texts: readonly string[]): string[][] {
  db.exec("DELETE FROM docs");
  const insert = db.prepare("INSERT INTO docs (rowid, text) VALUES (?, ?)");
  db.transaction(() => {
    for (const [i, text] of texts.entries()) insert.run(i + 1, text);
  })();
  const tokens: string[][] = texts.map(() => []);
  const rows = db.prepare("SELECT term, doc FROM terms ORDER BY doc, offset").all() as Array<{
    term: string;
    doc: number;
  }>;
  for (const { term, doc } of rows) {
    const list = tokens[doc - 1] as string[];
    if (!list.includes(term)) list.push(term);
  }
  return tokens;
}

/** Every code point of `[from, to]` between two letters, so that it joins or splits them. */
function between(from: number, to: number): string[] {
  const texts: string[] = [];
  for (let code = from; code <= to; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue;
    texts.push(`a${String.fromCodePoint(code)}b`);
  }
  return texts;
}

describe("searchTokens", () => {
  it("makes the tokens SQLite's unicode61 tokenizer (remove_diacritics 2) makes of sentences", () => {
    const texts = [
      "Crypto News Summarizer: summarizes crypto news from multiple sources",
      '["news","summarization","price-feed"]',
      "Café DÉJÀ-vu, naïve coöperation; Ærøskøbing Straße İstanbul ĳssel",
      "de\u0301ja\u0300 vu (decomposed) and ǖ ǘ ǚ ǜ ǟ",
      "ΣΊΣΥΦΟΣ σοφός ς µ ſ ϐ",
      "Привет мир ЁЖИК",
      "日本語のテキスト 中文搜索 한국어 검색",
      "GPT-4 v1.2.3 snake_case a@b.example https://x.example/path?q=1 3.14",
      "emoji 😀 🍕 and ™ © ½ ² ①",
      "tab\tnew\nline\u00a0nbsp\u2003em",
      "",
    ];
    expect(texts.map(searchTokens)).toEqual(sqliteTokens(texts));
  });

  it("agrees with SQLite on every code point of the Latin, Greek, Cyrillic, CJK and punctuation blocks", () => {
    // Blocks whose characters Unicode 6.1 (SQLite's tables) already had: characters assigned
    // since then (U+037F, U+0528…, newer emoji) are word characters to SQLite and not to us.
    const texts = [
      ...between(0x20, 0x37e),
      ...between(0x384, 0x527),
      ...between(0x1e00, 0x1fff),
      ...between(0x2000, 0x2065),
      ...between(0x3000, 0x30ff),
      ...between(0x4e00, 0x4eff),
      ...between(0xac00, 0xacff),
      ...between(0xff00, 0xffef),
    ];
    const ours = texts.map(searchTokens);
    const theirs = sqliteTokens(texts);
    const differ = texts.filter((_, i) => JSON.stringify(ours[i]) !== JSON.stringify(theirs[i]));
    expect(differ).toEqual([]);
  });

  it("folds search words as it folds text, so that words match their own text", () => {
    for (const text of ["Déjà Vu", "ΣΟΦΟΣ", "Straße", "ǅemal"]) {
      const words = searchWords(text);
      expect(words.flatMap(searchTokens)).toEqual(searchTokens(text));
    }
  });

  it("cuts a token to what PostgreSQL takes, at a character boundary", () => {
    const [long] = searchTokens("語".repeat(1_000));
    expect(Buffer.byteLength(long as string)).toBeLessThanOrEqual(MAX_TOKEN_BYTES);
    expect(long).toBe("語".repeat(Math.floor(MAX_TOKEN_BYTES / 3)));
  });
});
