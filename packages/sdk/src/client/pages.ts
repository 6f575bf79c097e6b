import { MercatoError } from "@mercato/protocol/errors";

/** A page the broker answers a list with: items under one key and the next page's cursor. */
export interface CursorPage {
  next_cursor: string | null;
}

/** The type of the items a page holds under `Key`. */
export type PageItem<Page, Key extends keyof Page> =
  Page[Key] extends ReadonlyArray<infer Item> ? Item : never;

/** Fetches the page at `cursor` (`undefined`: the first page the query asks for). */
export type FetchPage<Page> = (cursor: string | undefined) => Promise<Page>;

/**
 * The answer of a list: awaiting it gives the first page as the broker sent it, iterating it with
 * `for await` gives every item of every page, following `next_cursor` until it is `null`.
 * The first page is requested at once, as any promise would; later pages only as the iteration
 * reaches them. Each iteration starts again from the first page (without asking for it again).
 *
 * @example
 * const first = await client.agents.search({ category: "crypto" }); // { results, next_cursor }
 * for await (const agent of client.agents.search({ category: "crypto" })) console.log(agent.name);
 */
export class PagePromise<Page extends CursorPage, Key extends keyof Page>
  implements PromiseLike<Page>, AsyncIterable<PageItem<Page, Key>>
{
  readonly #first: Promise<Page>;
  readonly #fetchPage: FetchPage<Page>;
  readonly #key: Key;
  readonly #startCursor: string | undefined;

  /**
   * @param fetchPage fetches one page by cursor.
   * @param key where a page keeps its items (`results` for search, `data` for transactions).
   * @param startCursor the cursor the query started at, if any (so that a broker answering it back
   *   is caught).
   */
  constructor(fetchPage: FetchPage<Page>, key: Key, startCursor?: string) {
    this.#fetchPage = fetchPage;
    this.#key = key;
    this.#startCursor = startCursor;
    this.#first = fetchPage(undefined);
  }

  // The rejection handlers take `any` as `Promise`'s do, so that code written when lists returned
  // a plain promise (`.catch((error: MercatoError) => …)`) still compiles.
  // biome-ignore lint/suspicious/noThenProperty: a PagePromise is awaitable on purpose.
  then<Result1 = Page, Result2 = never>(
    onFulfilled?: ((page: Page) => Result1 | PromiseLike<Result1>) | null,
    // biome-ignore lint/suspicious/noExplicitAny: as Promise's.
    onRejected?: ((reason: any) => Result2 | PromiseLike<Result2>) | null,
  ): Promise<Result1 | Result2> {
    return this.#first.then(onFulfilled, onRejected);
  }

  catch<Result = never>(
    // biome-ignore lint/suspicious/noExplicitAny: as Promise's.
    onRejected?: ((reason: any) => Result | PromiseLike<Result>) | null,
  ): Promise<Page | Result> {
    return this.#first.catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<Page> {
    return this.#first.finally(onFinally);
  }

  /** Every page, the first one included, following `next_cursor`. */
  async *pages(): AsyncGenerator<Page, void, undefined> {
    const seen = new Set<string>();
    if (this.#startCursor !== undefined) seen.add(this.#startCursor);
    let page = await this.#first;
    for (;;) {
      yield page;
      const next = page.next_cursor;
      if (next === null) return;
      // A broker that hands back a cursor it already gave would make this loop forever.
      if (seen.has(next)) {
        throw new MercatoError("INTERNAL_ERROR", `The broker returned the page cursor ${next} twice`, {
          details: { cursor: next },
        });
      }
      seen.add(next);
      page = await this.#fetchPage(next);
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<PageItem<Page, Key>, void, undefined> {
    for await (const page of this.pages()) {
      yield* page[this.#key] as unknown as Iterable<PageItem<Page, Key>>;
    }
  }

  get [Symbol.toStringTag](): string {
    return "PagePromise";
  }
}
