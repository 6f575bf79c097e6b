/** Test support (not part of the package): a broker on a loopback port that records what it is sent. */
import { createServer } from "node:http";
import { listen } from "./loopback.js";

/** A request the fake broker received. */
export interface BrokerRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** The fake broker's answer to a request: a status and a JSON body. */
export type BrokerReply = (request: BrokerRequest) => { status: number; body: unknown };

export interface FakeBroker {
  url: string;
  /** Every request received, in order. */
  requests: BrokerRequest[];
  /** How the broker answers; change it at will. */
  reply: BrokerReply;
  close(): Promise<void>;
}

/** Starts a fake broker on 127.0.0.1 answering with `reply`. */
export async function fakeBroker(reply: BrokerReply): Promise<FakeBroker> {
  const broker = { requests: [] as BrokerRequest[], reply } as FakeBroker;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const request: BrokerRequest = {
        method: req.method ?? "GET",
        path: req.url ?? "/",
        headers: req.headers,
        body: text === "" ? undefined : (JSON.parse(text) as unknown),
      };
      broker.requests.push(request);
      const { status, body } = broker.reply(request);
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    });
  });
  const listening = await listen(server);
  broker.url = listening.url;
  broker.close = listening.close;
  return broker;
}
