/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// `npm run dev` proxies the API and the workspace files to a running `reviewdesk serve`
// (REVIEWDESK_URL, default http://127.0.0.1:7777). The server checks Host and Origin (DNS
// rebinding, CSRF), so the proxy presents itself as the server's own origin.
const backend = process.env.REVIEWDESK_URL ?? 'http://127.0.0.1:7777';
const proxy = {
  target: backend,
  changeOrigin: true,
  configure: (p: { on: (ev: 'proxyReq', cb: (req: { setHeader: (k: string, v: string) => void }) => void) => void }) =>
    p.on('proxyReq', (req) => req.setHeader('origin', backend)),
};

export default defineConfig({
  plugins: [svelte()],
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
  server: {
    proxy: {
      '/api': proxy,
      '/files': proxy,
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
