import * as z from "zod";

/**
 * The body of a call to a seller (`POST api_endpoint`), from the broker in proxy mode or from the
 * SDK in direct mode: the buyer's `input`, the call's id and how long the caller waits for an
 * answer. Unknown fields are accepted (and dropped) so that an older seller kit keeps working
 * when the protocol adds one. The signature headers are not part of the body.
 */
export const SellerCallRequest = z.object({
  input: z.unknown().describe("The buyer's input, any JSON value; the seller defines its shape"),
  call_id: z
    .string()
    .min(1)
    .max(200)
    .describe(
      "Id of this call, unique: a seller kit refuses one it has seen. In proxy mode, the transaction id",
    ),
  timeout_ms: z.number().int().positive().describe("How long the caller waits for the answer, in ms"),
});

/** A seller's successful answer to a {@link SellerCallRequest}: `{"output": …}`. */
export const SellerCallResponse = z.object({
  output: z.unknown().describe("The seller's output, any JSON value"),
});
