import { isMercatoError } from "@mercato/protocol/errors";
import { describe, expect, it } from "vitest";
import { PagePromise } from "./pages.js";

interface NumberPage {
  items: number[];
  next_cursor: string | null;
}

/** Pages of numbers keyed by cursor (`""` is the first page), recording the cursors asked for. */
function pagesOf(book: Record<string, NumberPage>) {
  const asked: (string | undefined)[] = [];
  return {
    asked,
    fetchPage: async (cursor: string | undefined): Promise<NumberPage> => {
      asked.push(cursor);
      const page = book[cursor ?? ""];
      if (page === undefined) throw new Error(`no page at ${cursor}`);
      return page;
    },
  };
}

const BOOK: Record<string, NumberPage> = {
  "": { items: [1, 2], next_cursor: "c2" },
  c2: { items: [3], next_cursor: "c3" },
  c3: { items: [], next_cursor: "c4" },
  c4: { items: [4, 5], next_cursor: null },
};

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe("PagePromise", () => {
  it("awaits to the first page, asking for it once and at once", async () => {
    const { asked, fetchPage } = pagesOf(BOOK);
    const pages = new PagePromise(fetchPage, "items");
    expect(asked).toEqual([undefined]);
    await expect(pages).resolves.toEqual(BOOK[""]);
    expect(await pages.then((page) => page.items.length)).toBe(2);
    expect(asked).toEqual([undefined]);
  });

  it("iterates every item of every page, empty pages included, following next_cursor", async () => {
    const { asked, fetchPage } = pagesOf(BOOK);
    const pages = new PagePromise(fetchPage, "items");
    expect(await collect(pages)).toEqual([1, 2, 3, 4, 5]);
    expect(asked).toEqual([undefined, "c2", "c3", "c4"]);
    // A second iteration starts again without asking for the first page again.
    expect(await collect(pages)).toEqual([1, 2, 3, 4, 5]);
    expect(asked).toEqual([undefined, "c2", "c3", "c4", "c2", "c3", "c4"]);
  });

  it("asks for a later page only when the iteration reaches it", async () => {
    const { asked, fetchPage } = pagesOf(BOOK);
    for await (const item of new PagePromise(fetchPage, "items")) {
      if (item === 2) break;
    }
    expect(asked).toEqual([undefined]);
  });

  it("yields whole pages through pages()", async () => {
    const { fetchPage } = pagesOf(BOOK);
    const pages = await collect(new PagePromise(fetchPage, "items").pages());
    expect(pages.map((page) => page.items)).toEqual([[1, 2], [3], [], [4, 5]]);
  });

  it.each([
    ["the cursor it was given", { "": { items: [1], next_cursor: "start" } }, "start"],
    [
      "a cursor it gave before",
      {
        "": { items: [1], next_cursor: "a" },
        a: { items: [2], next_cursor: "b" },
        b: { items: [3], next_cursor: "a" },
      },
      undefined,
    ],
  ])("refuses %s instead of paging forever", async (_label, book: Record<string, NumberPage>, start) => {
    const { fetchPage } = pagesOf(book);
    const seen: number[] = [];
    const error = await (async () => {
      for await (const item of new PagePromise(fetchPage, "items", start)) seen.push(item);
    })().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isMercatoError(error) && error.code).toBe("INTERNAL_ERROR");
    expect(seen.length).toBeGreaterThan(0);
  });

  it("rejects both ways when the first page fails", async () => {
    const pages = new PagePromise(async (): Promise<NumberPage> => {
      throw new Error("down");
    }, "items");
    await expect(pages).rejects.toThrow("down");
    await expect(collect(pages)).rejects.toThrow("down");
    await expect(pages.catch((error: Error) => error.message)).resolves.toBe("down");
  });
});
