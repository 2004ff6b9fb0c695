/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// `npm run dev` proxies the API and the workspace files to a running `reviewdesk serve`
// (REVIEWDESK_URL, default http://127.0.0.1:8787).
const backend = process.env.REVIEWDESK_URL ?? 'http://127.0.0.1:8787';

export default defineConfig({
  plugins: [svelte()],
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
  server: {
    proxy: {
      '/api': { target: backend, changeOrigin: false },
      '/files': { target: backend, changeOrigin: false },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
