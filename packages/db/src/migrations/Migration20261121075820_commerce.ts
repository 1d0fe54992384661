import { Migration } from '@mikro-orm/migrations';

export class Migration20261121075820_commerce extends Migration {
  override name = 'Migration20261121075820_commerce';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "payment_sandbox_operation" ("idempotency_key" varchar(255) not null, "operation" text not null, "result_id" varchar(64) null, "reference" varchar(64) null, "token" varchar(255) null, "amount_cents" bigint not null, "currency" varchar(3) not null, "status" text not null, "decline_reason" varchar(64) null, "voided_at" timestamptz null, "failures" int not null default 0, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("idempotency_key"));`,
    );

    this.addSql(
      `create table "stock_adjustment" ("id" uuid not null, "product_id" uuid not null, "delta" int not null, "reason" text not null, "actor_user_id" uuid null, "at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "stock_adjustment_product_id_index" on "stock_adjustment" ("product_id");`);

    this.addSql(
      `create table "store_order" ("id" uuid not null, "user_id" uuid not null, "status" text not null default 'pending_payment', "currency" varchar(3) not null, "subtotal_cents" bigint not null, "tax_rate_bps" int not null, "tax_cents" bigint not null, "total_cents" bigint not null, "payment_token" varchar(255) null, "payment_authorization_id" varchar(255) null, "payment_capture_id" varchar(255) null, "payment_refund_id" varchar(255) null, "payment_error" varchar(500) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "store_order_user_id_idx" on "store_order" ("user_id", "id");`);
    this.addSql(`create index "store_order_status_id_idx" on "store_order" ("status", "id");`);
    this.addSql(`create index "store_order_created_at_idx" on "store_order" ("created_at");`);

    this.addSql(
      `create table "order_line" ("id" uuid not null, "order_id" uuid not null, "product_id" uuid not null, "product_name" varchar(200) not null, "product_slug" varchar(120) not null, "unit_price_cents" int not null, "quantity" int not null, "line_total_cents" bigint not null, primary key ("id"));`,
    );
    this.addSql(`create index "order_line_order_id_index" on "order_line" ("order_id");`);
    this.addSql(`create index "order_line_product_id_index" on "order_line" ("product_id");`);

    this.addSql(
      `create table "order_event" ("id" uuid not null, "order_id" uuid not null, "from_status" text null, "to_status" text not null, "actor" text not null, "actor_user_id" uuid null, "note" varchar(500) null, "at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "order_event_order_id_index" on "order_event" ("order_id");`);

    this.addSql(
      `create table "checkout_idempotency_key" ("id" uuid not null, "user_id" uuid not null, "key" varchar(255) not null, "cart_hash" varchar(64) not null, "token_hash" varchar(64) not null, "order_id" uuid null, "created_at" timestamptz not null, "expires_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "checkout_idempotency_key_expires_at_index" on "checkout_idempotency_key" ("expires_at");`,
    );
    this.addSql(
      `alter table "checkout_idempotency_key" add constraint "checkout_idempotency_key_user_key_unique" unique ("user_id", "key");`,
    );

    this.addSql(
      `create table "cart_item" ("id" uuid not null, "user_id" uuid not null, "product_id" uuid not null, "quantity" int not null, "price_cents_seen" int not null, "added_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "cart_item_product_id_index" on "cart_item" ("product_id");`);
    this.addSql(
      `alter table "cart_item" add constraint "cart_item_user_product_unique" unique ("user_id", "product_id");`,
    );

    // Hand-edited: the generated diff dropped `active` before adding `archived_at`, losing which
    // products were inactive, and dropped the search index with its column without recreating it.
    this.addSql(`alter table "product" drop column "search_vector";`);
    this.addSql(
      `alter table "product" add "category" varchar(60) not null default 'general', add "image_urls" jsonb not null default '[]', add "archived_at" timestamptz null, add "search_vector" tsvector generated always as (setweight(to_tsvector('simple', coalesce(name, '')), 'A') || setweight(to_tsvector('simple', coalesce(description, '')), 'B')) stored null;`,
    );
    this.addSql(`update "product" set "archived_at" = "updated_at" where not "active";`);
    this.addSql(`alter table "product" drop column "active";`);
    this.addSql(
      `create index "product_search_vector_idx" on "product" using gin ("search_vector") where "archived_at" is null;`,
    );
    // The stock already on hand becomes each product's initial adjustment, so the ledger accounts for it.
    this.addSql(
      `insert into "stock_adjustment" ("id", "product_id", "delta", "reason", "at") select gen_random_uuid(), "id", "stock", 'initial', now() from "product" where "stock" > 0;`,
    );
    this.addSql(
      `create index "product_category_newest_idx" on "product" ("category", "id") where "archived_at" is null;`,
    );
    this.addSql(`create index "product_price_idx" on "product" ("price_cents", "id") where "archived_at" is null;`);
    this.addSql(
      `create index "product_category_price_idx" on "product" ("category", "price_cents", "id") where "archived_at" is null;`,
    );
    this.addSql(`create index "product_name_idx" on "product" ("name", "id") where "archived_at" is null;`);
    this.addSql(
      `create index "product_category_name_idx" on "product" ("category", "name", "id") where "archived_at" is null;`,
    );

    this.addSql(
      `alter table "payment_sandbox_operation" add constraint "payment_sandbox_operation_operation_check" check ("operation" in ('authorize', 'capture', 'refund', 'void'));`,
    );
    this.addSql(
      `alter table "payment_sandbox_operation" add constraint "payment_sandbox_operation_status_check" check ("status" in ('succeeded', 'declined', 'failing'));`,
    );

    this.addSql(
      `alter table "stock_adjustment" add constraint "stock_adjustment_product_id_foreign" foreign key ("product_id") references "product" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "stock_adjustment" add constraint "stock_adjustment_actor_user_id_foreign" foreign key ("actor_user_id") references "app_user" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "stock_adjustment" add constraint "stock_adjustment_reason_check" check ("reason" in ('initial', 'restock', 'correction'));`,
    );

    this.addSql(
      `alter table "store_order" add constraint "store_order_user_id_foreign" foreign key ("user_id") references "app_user" ("id") on delete restrict;`,
    );
    this.addSql(
      `alter table "store_order" add constraint "store_order_amounts_check" check (subtotal_cents >= 0 and tax_cents >= 0 and total_cents = subtotal_cents + tax_cents);`,
    );
    this.addSql(
      `alter table "store_order" add constraint "store_order_status_check" check ("status" in ('pending_payment', 'paid', 'shipped', 'delivered', 'cancelled', 'payment_failed', 'refunded'));`,
    );

    this.addSql(
      `alter table "order_line" add constraint "order_line_order_id_foreign" foreign key ("order_id") references "store_order" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "order_line" add constraint "order_line_product_id_foreign" foreign key ("product_id") references "product" ("id") on delete restrict;`,
    );
    this.addSql(
      `alter table "order_line" add constraint "order_line_quantity_check" check (quantity >= 1 and quantity <= 99);`,
    );
    this.addSql(
      `alter table "order_line" add constraint "order_line_total_check" check (line_total_cents = unit_price_cents::bigint * quantity);`,
    );

    this.addSql(
      `alter table "order_event" add constraint "order_event_order_id_foreign" foreign key ("order_id") references "store_order" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "order_event" add constraint "order_event_actor_user_id_foreign" foreign key ("actor_user_id") references "app_user" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "order_event" add constraint "order_event_from_status_check" check ("from_status" in ('pending_payment', 'paid', 'shipped', 'delivered', 'cancelled', 'payment_failed', 'refunded'));`,
    );
    this.addSql(
      `alter table "order_event" add constraint "order_event_to_status_check" check ("to_status" in ('pending_payment', 'paid', 'shipped', 'delivered', 'cancelled', 'payment_failed', 'refunded'));`,
    );
    this.addSql(
      `alter table "order_event" add constraint "order_event_actor_check" check ("actor" in ('customer', 'admin', 'system'));`,
    );

    this.addSql(
      `alter table "checkout_idempotency_key" add constraint "checkout_idempotency_key_user_id_foreign" foreign key ("user_id") references "app_user" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "checkout_idempotency_key" add constraint "checkout_idempotency_key_order_id_foreign" foreign key ("order_id") references "store_order" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "cart_item" add constraint "cart_item_user_id_foreign" foreign key ("user_id") references "app_user" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "cart_item" add constraint "cart_item_product_id_foreign" foreign key ("product_id") references "product" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "cart_item" add constraint "cart_item_quantity_check" check (quantity >= 1 and quantity <= 99);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "order_line" drop constraint "order_line_order_id_foreign";`);
    this.addSql(`alter table "order_event" drop constraint "order_event_order_id_foreign";`);
    this.addSql(`alter table "checkout_idempotency_key" drop constraint "checkout_idempotency_key_order_id_foreign";`);

    this.addSql(`drop table if exists "payment_sandbox_operation" cascade;`);
    this.addSql(`drop table if exists "stock_adjustment" cascade;`);
    this.addSql(`drop table if exists "store_order" cascade;`);
    this.addSql(`drop table if exists "order_line" cascade;`);
    this.addSql(`drop table if exists "order_event" cascade;`);
    this.addSql(`drop table if exists "checkout_idempotency_key" cascade;`);
    this.addSql(`drop table if exists "cart_item" cascade;`);

    this.addSql(`drop index "product_category_newest_idx";`);
    this.addSql(`drop index "product_price_idx";`);
    this.addSql(`drop index "product_category_price_idx";`);
    this.addSql(`drop index "product_name_idx";`);
    this.addSql(`drop index "product_category_name_idx";`);
    this.addSql(`alter table "product" add "active" boolean not null default true;`);
    this.addSql(`update "product" set "active" = false where "archived_at" is not null;`);
    this.addSql(
      `alter table "product" drop column "category", drop column "image_urls", drop column "archived_at", drop column "search_vector";`,
    );
    this.addSql(
      `alter table "product" add "search_vector" tsvector generated always as (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, ''))) stored null;`,
    );
    this.addSql(`create index "product_search_vector_idx" on "product" using gin ("search_vector");`);
  }
}
