import { needsTool } from '@keelson/testing';
import { describe, expect, it } from 'vitest';
import { startWebStack } from './stack.ts';

describe('smoke', needsTool('chromium'), () => {
  it('renders', async () => {
    await using stack = await startWebStack();
    const [u] = await stack.users(1);
    const page = await stack.newPage(await stack.newContext(u));
    await page.goto('/');
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Catalogue');
    await expect.poll(() => page.getByRole('link', { name: /Test / }).count()).toBe(1);
    expect(stack.pageErrors).toEqual([]);
  }, 60_000);
});
