/**
 * The one place the domain's long-lived services are built from the configuration, for the API and the
 * worker alike: a process asks for what it uses (the API the catalogue cache and the typing bus, the
 * worker the mailer and the payment provider) and each is built once, on first use. A new service, or a
 * new setting of one, is wired here and nowhere else.
 */
import { type CatalogCache, createCatalogCache } from '@keelson/catalog';
import { createTypingBus, type TypingBus } from '@keelson/chat';
import type { Config } from '@keelson/config';
import type { MikroORM } from '@keelson/db';
import { createMailer, type Mailer } from '@keelson/email';
import { createSandboxProvider, type PaymentProvider } from '@keelson/payments';

export interface Services {
  /** This process's cache of hot catalogue reads, or null when CATALOG_CACHE_MAX_ENTRIES is 0. */
  readonly catalogCache: CatalogCache | null;
  /** Typing indicators of this process's chat subscribers (fed by its LISTEN connection). */
  readonly typing: TypingBus;
  /** Outgoing mail: SMTP_URL, or .eml files in MAIL_DIR. */
  readonly mailer: Mailer;
  /** The payment provider PAYMENT_PROVIDER names (the sandbox). */
  readonly payments: PaymentProvider;
}

/** Each service is built on first use, then kept: a getter per service, no work for unused ones. */
export function createServices(deps: { config: Config; orm: MikroORM }): Services {
  const { config, orm } = deps;
  const once = <T>(build: () => T) => {
    let built: { value: T } | null = null;
    return () => {
      built ??= { value: build() };
      return built.value;
    };
  };
  const catalogCache = once(() =>
    config.catalog.cacheMaxEntries > 0
      ? createCatalogCache({ maxEntries: config.catalog.cacheMaxEntries, ttlMs: config.catalog.cacheTtlMs })
      : null,
  );
  const typing = once(() => createTypingBus());
  const mailer = once(() => createMailer(config.mail));
  const payments = once(() =>
    createSandboxProvider(orm, { transientFailures: config.payments.sandboxTransientFailures }),
  );
  return {
    get catalogCache() {
      return catalogCache();
    },
    get typing() {
      return typing();
    },
    get mailer() {
      return mailer();
    },
    get payments() {
      return payments();
    },
  };
}
