import { createTransport } from "nodemailer";
import type { AlertMessage } from "./messages.js";

/** What the e-mail sender needs of a nodemailer transporter (tests may pass their own). */
export interface EmailTransport {
  sendMail(message: {
    from: string;
    to: string;
    subject: string;
    text: string;
    date?: Date;
    headers?: Record<string, string>;
  }): Promise<unknown>;
  close?(): void;
}

/**
 * An SMTP transport for alert e-mails from the broker's `--smtp-url` (`smtp://user:pass@host:587`,
 * `smtps://…`), with time limits short enough that a dead server fails a delivery (and lets it be
 * retried) instead of hanging it for minutes.
 */
export function createSmtpTransport(smtpUrl: string, timeoutMs = 15_000): EmailTransport {
  return createTransport({
    url: smtpUrl,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
}

/** Sends one alert as a plain-text e-mail. Rejects when the SMTP server refuses or cannot be reached. */
export async function sendEmailAlert(
  transport: EmailTransport,
  from: string,
  to: string,
  message: AlertMessage,
  date: Date,
): Promise<void> {
  await transport.sendMail({
    from,
    to,
    subject: message.subject,
    text: `${message.body}\n\n-- \nSent by the Mercato broker.\n`,
    date,
    // Auto-generated: out-of-office replies should not answer it (RFC 3834).
    headers: { "Auto-Submitted": "auto-generated" },
  });
}
