// What the demo's steps share: its output (numbered section headings and indented lines), the list
// of problems it reports at the end, and the broker.
import type { MercatoClient } from "@mercato/sdk";

/** Output helpers: section headings and indented lines. */
export function createOutput(write: (text: string) => void) {
  let section = 0;
  const line = (text = "") => write(`${text}\n`);
  return {
    line,
    heading(title: string) {
      section++;
      line();
      line(`${section}. ${title}`);
    },
    block(text: string, pad = "   ") {
      for (const part of text.split("\n")) line(part === "" ? "" : `${pad}${part}`);
    },
  };
}

/** The demo's output; see {@link createOutput}. */
export type Output = ReturnType<typeof createOutput>;

/** What every step of the demo after the broker's start works with. */
export interface DemoContext {
  out: Output;
  /** What went wrong without stopping the demo: printed at the end, and the exit status is then 1. */
  problems: string[];
  brokerUrl: string;
  /** A client without an account key: sign-ups and search. */
  anonymous: MercatoClient;
}
