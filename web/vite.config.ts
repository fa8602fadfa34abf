// Builds the UI into the Python package, where `tether server` serves it at `/`.
// `npm run dev` proxies the API to TETHER_DEV_API (default http://127.0.0.1:8000).
import { defineConfig } from "vite";

const api = process.env.TETHER_DEV_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "../src/tether/server/static",
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 200,
  },
  server: { proxy: { "/api": api } },
  preview: { proxy: { "/api": api } },
});
