import { defineConfig } from "vite";

// Django serves the built files from its static root and reads dist/manifest.json
// to find the hashed entry script and stylesheet.
export default defineConfig({
  base: "/static/frontend/",
  build: {
    outDir: "dist",
    manifest: "manifest.json",
    emptyOutDir: true,
    rollupOptions: {
      input: "src/main.ts",
    },
  },
});
