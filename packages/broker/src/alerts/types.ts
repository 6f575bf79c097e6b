/** Something a seller or buyer is told about, once per change of state. */
export type AlertEvent =
  | { kind: "agent_down"; agentId: string; at: string; consecutiveFailures: number }
  | { kind: "agent_recovered"; agentId: string; at: string }
  | {
      kind: "low_success_rate";
      agentId: string;
      at: string;
      successRate: number;
      threshold: number;
      calls: number;
    }
  | {
      kind: "key_suspended";
      accountId: string;
      keyId: string;
      agentId: string | null;
      at: string;
      reason: string;
    };

/**
 * Sends alerts to the channels their subject set up: an agent's Slack webhook and e-mail (agent
 * events), the account's e-mail (key events). Delivery runs in the background with retries; a
 * failed channel never fails the caller.
 */
export interface AlertNotifier {
  notify(event: AlertEvent): void;
  /** Waits for the deliveries in flight (tests, shutdown). */
  drain(): Promise<void>;
}
