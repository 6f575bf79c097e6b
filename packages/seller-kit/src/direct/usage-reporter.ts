import { MAX_USAGE_REPORTS, type UsageOutcomeValue } from "@mercato/protocol";
import { newRequestId } from "../core/request-id.js";
import { type BrokerPost, brokerFailure } from "./broker-client.js";

/** Options of {@link createUsageReporter}. */
export interface UsageReporterOptions {
  post: BrokerPost;
  /** The seller's account key (`mk_…`), sent as `Authorization: Bearer`. */
  apiKey: string;
  /** Reports a failed send (stage `report`). */
  report: (error: unknown, requestId: string) => void;
}

/** Reports the outcomes of direct calls to `POST {broker}/usage/reports`, in batches. */
export interface UsageReporter {
  /**
   * Buffers the outcome of a settled direct call; a full batch is sent at once. `client_error`: the
   * kit refused the buyer's input as invalid (counted apart, not as the seller's failure).
   */
  record(
    agentId: string,
    grantId: string,
    sequence: number,
    outcome: UsageOutcomeValue,
    durationMs: number,
    atMs: number,
  ): void;
  /**
   * Sends every buffered outcome (in batches of at most 1,000) and waits for the sends under way.
   * Resolves with how many outcomes the broker acknowledged; failed batches are reported and dropped.
   */
  send(): Promise<number>;
}

interface Outcome {
  agentId: string;
  grantId: string;
  sequence: number;
  outcome: UsageOutcomeValue;
  durationMs: number;
  atMs: number;
}

/** Full batches sent at once, without waiting for the next round, at most this many at a time. */
const MAX_SENDS_IN_FLIGHT = 4;
/** Outcomes buffered while the broker does not keep up; beyond, new ones are dropped. */
const MAX_BUFFERED = 10 * MAX_USAGE_REPORTS;
/** The schema's bound on `response_time_ms`. */
const MAX_RESPONSE_TIME_MS = 3_600_000;

/**
 * The outcomes of direct calls, for the agent's trust metrics. Metrics are not money: a batch the
 * broker does not take is reported to `onError` and dropped, and the buffer is bounded.
 */
export function createUsageReporter(options: UsageReporterOptions): UsageReporter {
  const { post, apiKey, report } = options;
  let buffer: Outcome[] = [];
  let dropped = 0;
  const inFlight = new Set<Promise<number>>();

  const sendBatch = (batch: Outcome[]): Promise<number> => {
    const requestId = newRequestId();
    const reports = batch.map((outcome) => ({
      agent_id: outcome.agentId,
      grant_id: outcome.grantId,
      sequence: outcome.sequence,
      success: outcome.outcome === "success",
      // Named only when `success` cannot say it, so that a broker older than `outcome` still takes
      // every batch without client errors.
      ...(outcome.outcome === "client_error" && { outcome: outcome.outcome }),
      response_time_ms: Math.min(MAX_RESPONSE_TIME_MS, Math.max(0, Math.round(outcome.durationMs))),
      at: new Date(outcome.atMs).toISOString(),
    }));
    const sending = post("/usage/reports", { reports }, requestId, apiKey).then((answer) => {
      if (!answer.ok) throw brokerFailure("POST /usage/reports", answer);
      return batch.length;
    });
    const settled = sending
      .catch((error: unknown) => {
        report(error, requestId);
        return 0;
      })
      .finally(() => {
        inFlight.delete(settled);
      });
    inFlight.add(settled);
    return settled;
  };

  /** Takes up to one batch off the buffer. */
  const takeBatch = (): Outcome[] => {
    if (buffer.length <= MAX_USAGE_REPORTS) {
      const batch = buffer;
      buffer = [];
      return batch;
    }
    return buffer.splice(0, MAX_USAGE_REPORTS);
  };

  return {
    record(agentId, grantId, sequence, outcome, durationMs, atMs) {
      if (buffer.length >= MAX_BUFFERED) {
        dropped++;
        return;
      }
      buffer.push({ agentId, grantId, sequence, outcome, durationMs, atMs });
      if (buffer.length >= MAX_USAGE_REPORTS && inFlight.size < MAX_SENDS_IN_FLIGHT) {
        void sendBatch(takeBatch());
      }
    },

    async send() {
      if (dropped > 0) {
        report(
          new Error(`${dropped} outcomes of direct calls were dropped: the broker did not keep up`),
          newRequestId(),
        );
        dropped = 0;
      }
      const sends = [...inFlight];
      while (buffer.length > 0) sends.push(sendBatch(takeBatch()));
      let reported = 0;
      for (const count of await Promise.all(sends)) reported += count;
      return reported;
    },
  };
}
