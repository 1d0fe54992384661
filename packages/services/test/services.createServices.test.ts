/** The composition place: each service built once, on first use, from the configuration. */
import { createServices } from '@keelson/services';
import { testConfig } from '@keelson/testing';
import { useTestOrm } from '@keelson/testing/database';
import { describe, expect, it } from 'vitest';

describe('createServices', () => {
  const t = useTestOrm();

  it('builds each service once, and the catalogue cache only when configured', async () => {
    const services = createServices({ config: testConfig({ DATABASE_URL: t.db.url }), orm: t.orm });
    expect(services.typing).toBe(services.typing);
    expect(services.mailer).toBe(services.mailer);
    expect(services.payments).toBe(services.payments);
    expect(services.payments.name).toBe('sandbox');
    const cached = createServices({ config: testConfig({ CATALOG_CACHE_MAX_ENTRIES: '10' }), orm: t.orm });
    expect(cached.catalogCache).not.toBeNull();
    expect(cached.catalogCache).toBe(cached.catalogCache);
    const uncached = createServices({ config: testConfig({ CATALOG_CACHE_MAX_ENTRIES: '0' }), orm: t.orm });
    expect(uncached.catalogCache).toBeNull();
  });

  it('authorises a sandbox payment through the provider it builds, on the real database', async () => {
    const { payments } = createServices({ config: testConfig({ DATABASE_URL: t.db.url }), orm: t.orm });
    const result = await payments.authorize({
      idempotencyKey: 'services-test-1',
      token: 'tok_visa',
      amountCents: 1234,
      currency: 'USD',
    });
    expect(result).toMatchObject({ authorizationId: expect.stringMatching(/^auth_sandbox_/) });
  });
});
