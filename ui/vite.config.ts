// Vite build of the Fluoro dashboard (run from the repository root: `npm run build`
// writes ui/dist, which the Go package ui embeds). Also the Vitest configuration.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';
import { mockPlugin } from './test/mock/plugin.ts';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = resolve(root, 'dist');

/**
 * ui/dist/placeholder.html is committed (it is what the Go binary serves when the
 * UI was not built), so the build must not delete it: Vite's emptyOutDir is off and
 * this plugin clears everything else in dist before a build.
 */
function keepPlaceholder(): Plugin {
  return {
    name: 'fluoro-keep-placeholder',
    apply: 'build',
    buildStart() {
      if (!existsSync(outDir)) return;
      for (const name of readdirSync(outDir)) {
        if (name !== 'placeholder.html') rmSync(join(outDir, name), { recursive: true, force: true });
      }
    },
  };
}

export default defineConfig({
  root,
  base: '/',
  // Vite 8 transforms TS/JSX with oxc; Preact's automatic JSX runtime.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  plugins: [keepPlaceholder(), ...(process.env.FLUORO_MOCK ? [mockPlugin()] : [])],
  build: {
    outDir,
    emptyOutDir: false,
    target: 'es2022',
    sourcemap: false,
    assetsDir: 'assets',
    chunkSizeWarningLimit: 300,
  },
  worker: { format: 'es' },
  server: {
    port: 5173,
    strictPort: false,
    // `FLUORO_DEV_API=http://127.0.0.1:2001 npm run dev`: hot-reloading UI against a running Fluoro.
    proxy: process.env.FLUORO_DEV_API
      ? {
          '^/(ServiceGraph|TraceSummaries|Traces|TraceGraph|Groups|TimeSeriesServiceStatistics|lambda/)': process.env.FLUORO_DEV_API,
          '/ws': { target: process.env.FLUORO_DEV_API, ws: true },
        }
      : {},
  },
  preview: { port: 4173, strictPort: false },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 20_000,
  },
});
