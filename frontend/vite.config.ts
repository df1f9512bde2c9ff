/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig, loadEnv } from "vite";

// Built assets are served by Django (whitenoise) under /static/; index.html is served for every SPA route.
export default defineConfig(({ command, mode }) => {
  // FLOWYARD_BACKEND: where `npm run dev` proxies API calls (the Django server).
  const backend = loadEnv(mode, ".", "").FLOWYARD_BACKEND || "http://127.0.0.1:8000";
  return {
    // Built files live under /static/ (Django); the dev server serves the app at / so browser routes work.
    base: command === "build" ? "/static/" : "/",
    plugins: [react()],
    server: {
      proxy: {
        "/api": backend,
        "/admin": backend,
        "/ws": { target: backend, ws: true },
      },
    },
    build: { outDir: "dist", emptyOutDir: true, sourcemap: true },
    test: {
      environment: "node",
      setupFiles: ["./vitest.setup.ts"],
      include: ["src/**/*.test.{ts,tsx}"],
      pool: "threads",
      maxWorkers: 2,
      // The 5 s default is hit on a loaded 2-core machine by tests that only wait for the code under test
      // (a whole page rendering); a hang still fails, after 20 s.
      testTimeout: 20_000,
    },
  };
});
