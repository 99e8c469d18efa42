import { defineConfig } from "vite";

// Django serves the built files from its static root and reads dist/manifest.json
// to find the hashed entry script and stylesheet.
export default defineConfig({
  base: "/static/frontend/",
  // `make dev`: Django's page loads the modules from here (VITE_DEV_SERVER); asset URLs in them
  // must name this origin, not the page's.
  server: {
    host: "127.0.0.1",
    port: Number(process.env.VITE_PORT ?? 5173),
    strictPort: true,
    origin: `http://127.0.0.1:${process.env.VITE_PORT ?? 5173}`,
  },
  build: {
    outDir: "dist",
    manifest: "manifest.json",
    emptyOutDir: true,
    rollupOptions: {
      input: "src/main.tsx",
    },
  },
});
