import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// `pnpm dev:web` proxies /trpc to the API (`pnpm start` in another terminal), so the app calls
// its own origin in development as it does when the API serves the build.
const api = process.env.API_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  plugins: [react()],
  server: { host: '127.0.0.1', proxy: { '/trpc': api } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
});
