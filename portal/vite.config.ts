import react from '@vitejs/plugin-react';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  // React's production build whoever runs vite (scripts/build-portal.ts also sets NODE_ENV).
  mode: 'production',
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  plugins: [react()],
  build: {
    outDir: resolve(here, '../dist/portal'),
    emptyOutDir: true,
    // The portal's CSP allows scripts from its own origin only: no inline module preload shim.
    modulePreload: { polyfill: false },
    target: 'es2022',
  },
});
