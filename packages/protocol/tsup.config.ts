import { defineConfig } from "tsup";

// The root entry exports everything; each subpath is one folder of src/, so that a client that
// needs the error class or the voucher signer does not load every zod schema (see package.json
// `exports`). Shared modules go to chunks, in CJS too, so that `MercatoError` is one class whichever
// entry it comes from.
export default defineConfig({
  entry: {
    index: "src/index.ts",
    "call-signatures": "src/call-signatures/index.ts",
    direct: "src/direct/index.ts",
    "endpoint-challenge": "src/endpoint-challenge/index.ts",
    errors: "src/errors/index.ts",
    grants: "src/grants/index.ts",
    json: "src/json/index.ts",
    money: "src/money/index.ts",
    receipts: "src/receipts/index.ts",
    schemas: "src/schemas/index.ts",
    trust: "src/trust/index.ts",
  },
  format: ["esm", "cjs"],
  // composite is for `tsc -b` (the root tsconfig.json); the declaration build is one project.
  dts: { compilerOptions: { composite: false } },
  sourcemap: true,
  clean: true,
  splitting: true,
  target: "node20",
});
