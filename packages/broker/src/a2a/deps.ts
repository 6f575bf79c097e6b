import type { InvokeDeps } from "../invoke/deps.js";
import type { RegistryStore } from "../registry/port.js";
import type { ReceiptSigner } from "../signing/signer.js";

/** What the A2A routes use: the invoke proxy's dependencies, the listings' contracts, card signing. */
export interface A2aDeps extends InvokeDeps {
  store: InvokeDeps["store"] & Pick<RegistryStore, "getAgent" | "getAgentContract" | "searchAgents">;
  signer: Pick<ReceiptSigner, "signCall" | "sign" | "signAgentCard">;
}
