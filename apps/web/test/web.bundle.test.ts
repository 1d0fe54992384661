/**
 * The app's first load stays small: the JavaScript a browser fetches before the first page draws (the
 * entry script and what index.html preloads for it) is within 200 KB gzipped, and every page is a chunk
 * of its own, fetched when first opened. Reads the build vitest's globalSetup made of the current sources.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { webDist } from '@keelson/web/build';
import { describe, expect, it } from 'vitest';

const INITIAL_JS_BUDGET_GZIP = 200 * 1024;

const gzipped = async (asset: string) => gzipSync(await readFile(path.join(webDist, asset)), { level: 9 }).length;

describe('the web app bundle', () => {
  it('loads at most 200 KB of gzipped JavaScript before the first page, and splits pages', async () => {
    const html = await readFile(path.join(webDist, 'index.html'), 'utf8');
    const initial = [
      ...html.matchAll(/<script type="module"[^>]* src="\/([^"]+)"/g),
      ...html.matchAll(/<link rel="modulepreload"[^>]* href="\/([^"]+)"/g),
    ].map((m) => m[1] as string);
    expect(initial.length).toBeGreaterThan(0);
    const sizes = await Promise.all(initial.map(gzipped));
    const total = sizes.reduce((a, b) => a + b, 0);
    console.log(`initial JavaScript: ${(total / 1024).toFixed(1)} KB gzipped in ${initial.length} file(s)`);
    expect(total).toBeLessThanOrEqual(INITIAL_JS_BUDGET_GZIP);

    // No page is in the first load: each is a chunk the router imports when its path is opened.
    const entry = await readFile(path.join(webDist, initial[0] as string), 'utf8');
    const lazyChunks = [...entry.matchAll(/import\([`"]\.\/([^`"]+\.js)[`"]\)/g)].map((m) => m[1]);
    expect(lazyChunks.length).toBeGreaterThanOrEqual(3);
    for (const chunk of lazyChunks) expect(initial).not.toContain(`assets/${chunk}`);
  });
});
