import { defineConfig } from "vitest/config";

// Every package's tests use real databases, sockets, subprocesses and signatures, and CI runs all
// the packages at once on a busy 2-core machine, where a test that takes 0.5 s alone can take 30.
// These limits only catch a hang: no test may depend on being fast.
export default defineConfig({ test: { testTimeout: 120_000, hookTimeout: 120_000 } });
