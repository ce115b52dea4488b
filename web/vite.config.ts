/**
 * Builds the single-page app into web/dist. File names under assets/ carry a
 * content hash, which is what lets `examday serve` cache them for a year.
 */
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const here = decodeURIComponent(new URL('.', import.meta.url).pathname);

export default defineConfig({
  root: here,
  base: '/',
  plugins: [react()],
  build: {
    outDir: `${here}dist`,
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: true,
    target: 'es2022',
  },
  server: { proxy: { '/api': 'http://127.0.0.1:3000', '/docs': 'http://127.0.0.1:3000' } },
});
