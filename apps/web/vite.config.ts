/**
 * The web app's build (`pnpm --filter @keelson/web build`, which `pnpm start` runs when the build is
 * missing or older than its sources) and its dev server (`pnpm dev:web`): Vite with hot reload on
 * :5173, proxying the API's paths to a running API (KEELSON_API_URL, default http://127.0.0.1:3000), so
 * the page and the API share one origin as they do in production and the session cookie just works.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { ClientRequest, IncomingMessage } from 'node:http';
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

// biome-ignore lint/style/noProcessEnv: the dev server's one setting, read where Vite reads its config
const api = process.env.KEELSON_API_URL ?? 'http://127.0.0.1:3000';
/** Paths the API answers; everything else is the app's. */
const API_PATHS = ['/trpc', '/auth', '/reports', '/healthz', '/readyz'];

/** `.br` and `.gz` beside each text file of the build, which the API sends as they are (no work per request). */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'keelson-precompress',
    apply: 'build',
    configResolved: (config) => {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      for (const entry of readdirSync(outDir, { recursive: true, encoding: 'utf8' })) {
        if (!/\.(js|css|html|svg|json)$/.test(entry)) continue;
        const file = path.join(outDir, entry);
        const body = readFileSync(file);
        if (body.length < 1024) continue;
        writeFileSync(`${file}.br`, brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
        writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  plugins: [react(), precompress()],
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    proxy: Object.fromEntries(
      API_PATHS.map((p) => [
        p,
        {
          target: api,
          ws: p === '/trpc',
          // The API accepts cookie-authenticated mutations and WebSockets from its own origin (CSRF): a
          // request from this dev server's page is told to be from the API's origin, exactly as the same
          // page served by the API would be. Any other Origin passes unchanged, and is refused there.
          configure: (proxy) => {
            const rewrite = (out: ClientRequest, req: IncomingMessage) => {
              if (req.headers.origin === `http://${req.headers.host}`) out.setHeader('origin', new URL(api).origin);
            };
            proxy.on('proxyReq', rewrite);
            proxy.on('proxyReqWs', rewrite);
          },
        },
      ]),
    ),
  },
  build: {
    target: 'es2022',
    // Hashed names under /assets/, which the API serves as immutable.
    assetsDir: 'assets',
    sourcemap: true,
  },
});
