import { describe, expect, it } from "vitest";
import { grantPayload } from "../direct/test-fixtures.js";
import {
  BuyerPublicKey,
  CloseGrantRequest,
  CreateGrantRequest,
  Ed25519Signature,
  Grant,
  GrantId,
  GrantPayload,
  RedeemGrantRequest,
  UsageReport,
  usageOutcomeOf,
} from "./grants.js";

const KEY = "x4Gq2v9T1b8kQnY7cW3mZ5aR0dL6eF2hJ9sU1pV4iO8";
const SIG = `${"a".repeat(85)}w`;

describe("grant schemas", () => {
  it("GrantId and the key and signature encodings", () => {
    expect(GrantId.safeParse("grt_0123456789ab").success).toBe(true);
    for (const bad of [
      "grt_short",
      "GRT_0123456789ab",
      "grt_0123456789AB",
      "grt_0123:456789",
      "grt_01234567\n9",
    ]) {
      expect(GrantId.safeParse(bad).success, bad).toBe(false);
    }
    expect(BuyerPublicKey.safeParse(KEY).success).toBe(true);
    // 43 characters carry 258 bits: a canonical encoding of 32 bytes ends in a character whose low 2 bits are 0.
    expect(BuyerPublicKey.safeParse(`${KEY.slice(0, 42)}9`).success).toBe(false);
    expect(BuyerPublicKey.safeParse(KEY.slice(1)).success).toBe(false);
    expect(BuyerPublicKey.safeParse(`${KEY}=`).success).toBe(false);
    expect(Ed25519Signature.safeParse(SIG).success).toBe(true);
    expect(Ed25519Signature.safeParse(`${"a".repeat(85)}b`).success).toBe(false);
  });

  it("GrantPayload accepts a grant and refuses a non-positive price or budget, or an expiry before issue", () => {
    expect(GrantPayload.parse(grantPayload())).toEqual(grantPayload());
    for (const change of [
      { price_per_call_usd: "0.000000" },
      { price_per_call_usd: "-0.020000" },
      { price_per_call_usd: "0.02" },
      { budget_usd: "0.000000" },
      { budget_usd: "99999999999.000000" },
      { expires_at: "2026-03-01T11:00:00.000Z" },
      { endpoint: "not a url" },
      { buyer_public_key: "abc" },
      { issuer: "" },
    ]) {
      expect(GrantPayload.safeParse(grantPayload(change)).success, JSON.stringify(change)).toBe(false);
    }
  });

  it("CreateGrantRequest: agent, positive budget, ttl 60–86400 s (default 3600), buyer key", () => {
    const body = { agent_id: "agent_seller01", budget_usd: "1.50", buyer_public_key: KEY };
    expect(CreateGrantRequest.parse(body)).toEqual({ ...body, ttl_s: 3600 });
    expect(CreateGrantRequest.parse({ ...body, budget_usd: 2, ttl_s: 60 })).toMatchObject({ ttl_s: 60 });
    expect(CreateGrantRequest.parse({ ...body, ttl_s: 86_400 })).toMatchObject({ ttl_s: 86_400 });
    for (const bad of [
      { ...body, ttl_s: 59 },
      { ...body, ttl_s: 86_401 },
      { ...body, ttl_s: 600.5 },
      { ...body, budget_usd: "0" },
      { ...body, budget_usd: "-1" },
      { ...body, budget_usd: "0.0000001" },
      { ...body, buyer_public_key: undefined },
      { ...body, extra: true },
    ]) {
      expect(CreateGrantRequest.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it("Grant: the broker's view of a grant", () => {
    const grant = {
      grant_id: "grt_0123456789ab",
      token: "h.p.s",
      agent_id: "agent_seller01",
      buyer_id: "acct_buyer0001",
      endpoint: "https://seller.example/agent",
      price_per_call_usd: "0.020000",
      budget_usd: "1.000000",
      issued_at: "2026-03-01T12:00:00.000Z",
      expires_at: "2026-03-01T13:00:00.000Z",
      status: "closed",
      redeemed_usd: "0.400000",
      captured_usd: "0.420000",
      closed_at: "2026-03-01T12:40:00.000Z",
    };
    expect(Grant.parse(grant)).toEqual(grant);
    expect(Grant.safeParse({ ...grant, status: "spent" }).success).toBe(false);
  });

  it("RedeemGrantRequest carries a voucher and what the seller earned; CloseGrantRequest a voucher, or none", () => {
    const v = { sequence: 12, owed_usd: "0.220000", signature: SIG };
    const redeem = { ...v, earned_usd: "0.200000" };
    expect(RedeemGrantRequest.parse(redeem)).toEqual(redeem);
    // What the seller earned is required: a voucher alone says what the buyer prepaid, not what was served.
    expect(RedeemGrantRequest.safeParse(v).success).toBe(false);
    expect(RedeemGrantRequest.safeParse({ ...redeem, earned_usd: "-0.02" }).success).toBe(false);
    expect(RedeemGrantRequest.safeParse({ ...redeem, sequence: 0 }).success).toBe(false);
    expect(RedeemGrantRequest.safeParse({ ...redeem, owed_usd: "-1" }).success).toBe(false);
    expect(RedeemGrantRequest.safeParse({ sequence: 1, owed_usd: "0", earned_usd: "0" }).success).toBe(false);
    expect(CloseGrantRequest.parse(v)).toEqual(v);
    expect(CloseGrantRequest.safeParse(redeem).success).toBe(false);
    expect(CloseGrantRequest.parse({})).toEqual({});
    expect(CloseGrantRequest.safeParse({ sequence: 3 }).success).toBe(false);
    expect(CloseGrantRequest.safeParse({ sequence: 3, owed_usd: "0.1" }).success).toBe(false);
    expect(CloseGrantRequest.safeParse({ owed_usd: "0.1", signature: SIG }).success).toBe(false);
  });

  it("UsageReport: 1 to 1000 outcomes, each naming its call by grant and sequence", () => {
    const report = {
      agent_id: "agent_seller01",
      grant_id: "grt_0123456789ab",
      sequence: 7,
      success: true,
      response_time_ms: 120,
      at: "2026-03-01T12:05:00.000Z",
    };
    expect(UsageReport.parse({ reports: [report] })).toEqual({ reports: [report] });
    expect(UsageReport.safeParse({ reports: Array(1000).fill(report) }).success).toBe(true);
    expect(UsageReport.safeParse({ reports: Array(1001).fill(report) }).success).toBe(false);
    expect(UsageReport.safeParse({ reports: [] }).success).toBe(false);
    expect(UsageReport.safeParse({ reports: [{ ...report, response_time_ms: -1 }] }).success).toBe(false);
    expect(UsageReport.safeParse({ reports: [{ ...report, grant_id: undefined }] }).success).toBe(false);
    expect(UsageReport.safeParse({ reports: [{ ...report, sequence: undefined }] }).success).toBe(false);
    expect(UsageReport.safeParse({ reports: [{ ...report, sequence: 0 }] }).success).toBe(false);
  });

  it("UsageReport: an outcome, or success, or both when they agree", () => {
    const { success: _success, ...bare } = {
      agent_id: "agent_seller01",
      grant_id: "grt_0123456789ab",
      sequence: 7,
      success: true,
      response_time_ms: 120,
      at: "2026-03-01T12:05:00.000Z",
    };
    const parse = (fields: Record<string, unknown>) =>
      UsageReport.safeParse({ reports: [{ ...bare, ...fields }] });
    for (const outcome of ["success", "failure", "client_error"] as const) {
      expect(parse({ outcome }).success).toBe(true);
      expect(usageOutcomeOf({ outcome })).toBe(outcome);
    }
    expect(parse({ outcome: "client_error", success: false }).success).toBe(true);
    expect(parse({ outcome: "success", success: true }).success).toBe(true);
    expect(parse({ outcome: "success", success: false }).success).toBe(false);
    expect(parse({ outcome: "client_error", success: true }).success).toBe(false);
    expect(parse({ outcome: "timeout" }).success).toBe(false);
    expect(parse({}).success).toBe(false);
    expect(usageOutcomeOf({ success: true })).toBe("success");
    expect(usageOutcomeOf({ success: false })).toBe("failure");
  });
});
