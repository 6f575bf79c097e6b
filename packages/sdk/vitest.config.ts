import { defineConfig } from "vitest/config";

// Tests here use real databases, sockets and signatures; on a 2-core CI machine running every
// package's tests at once, a test that takes 0.5 s alone can take several: 5 s is too tight.
export default defineConfig({ test: { testTimeout: 20_000, hookTimeout: 30_000 } });
