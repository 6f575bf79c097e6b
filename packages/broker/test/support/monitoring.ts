import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import type { CheckerTimers } from "../../src/metrics/health-checker.js";
import type { createManualClock } from "../../src/platform/clock.js";

/** Timers that fire when a test moves the manual clock, never on their own. */
export interface ManualTimers extends CheckerTimers {
  /** Moves the clock `ms` forward, firing each timer (in order) when the clock reaches it. */
  advance(ms: number): void;
  /** Timers set and not yet fired or cleared. */
  pending(): number;
}

/** Manual timers on a manual clock: the health checker's loop then runs only when the test says. */
export function createManualTimers(clock: ReturnType<typeof createManualClock>): ManualTimers {
  const timers = new Map<number, { at: number; callback: () => void }>();
  let next = 0;
  return {
    setTimeout(callback, ms) {
      const id = ++next;
      timers.set(id, { at: clock.now().getTime() + Math.max(0, ms), callback });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      const end = clock.now().getTime() + ms;
      for (;;) {
        let first: [number, { at: number; callback: () => void }] | undefined;
        for (const entry of timers) if (!first || entry[1].at < first[1].at) first = entry;
        if (!first || first[1].at > end) break;
        timers.delete(first[0]);
        if (first[1].at > clock.now().getTime()) clock.set(new Date(first[1].at));
        first[1].callback();
      }
      clock.set(new Date(end));
    },
    pending: () => timers.size,
  };
}

/** One e-mail the sink received, decoded enough to assert on. */
export interface ReceivedEmail {
  from: string;
  to: string[];
  subject: string;
  /** The plain-text body, quoted-printable decoded. */
  text: string;
  raw: string;
}

/** A real SMTP server on a loopback port that keeps what it receives. */
export interface SmtpSink {
  /** `smtp://127.0.0.1:<port>`, for `--smtp-url`. */
  url: string;
  messages: ReceivedEmail[];
  close(): Promise<void>;
}

/** Starts an SMTP server without TLS or authentication (loopback only), for alert tests. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: ReceivedEmail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          subject: headerOf(raw, "subject"),
          text: bodyOf(raw),
          raw,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function headerOf(raw: string, name: string): string {
  const head = raw.split(/\r?\n\r?\n/)[0] ?? "";
  const unfolded = head.replace(/\r?\n[ \t]+/g, " ");
  const line = unfolded.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name}:`));
  return line ? decodeWords(line.slice(name.length + 1).trim()) : "";
}

/** Decodes RFC 2047 encoded words (`=?UTF-8?Q?…?=`, `=?UTF-8?B?…?=`), as nodemailer writes them. */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_, _charset: string, encoding: string, text: string) =>
      encoding.toUpperCase() === "B"
        ? Buffer.from(text, "base64").toString("utf8")
        : Buffer.from(
            text
              .replace(/_/g, " ")
              .replace(/=([0-9A-F]{2})/gi, (_m, hex: string) =>
                String.fromCharCode(Number.parseInt(hex, 16)),
              ),
            "latin1",
          ).toString("utf8"),
    );
}

function bodyOf(raw: string): string {
  const split = raw.search(/\r?\n\r?\n/);
  const body = split < 0 ? "" : raw.slice(split).replace(/^\r?\n\r?\n/, "");
  if (!/content-transfer-encoding:\s*quoted-printable/i.test(raw.slice(0, split))) {
    return body.replace(/\r\n/g, "\n");
  }
  const bytes = body
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return Buffer.from(bytes, "latin1").toString("utf8").replace(/\r\n/g, "\n");
}
