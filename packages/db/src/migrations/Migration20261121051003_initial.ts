import { Migration } from '@mikro-orm/migrations';

export class Migration20261121051003_initial extends Migration {
  override name = 'Migration20261121051003_initial';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "product" ("id" uuid not null, "slug" varchar(120) not null, "name" varchar(200) not null, "description" text not null default '', "price_cents" int not null, "currency" varchar(3) not null default 'USD', "stock" int not null default 0, "active" boolean not null default true, "view_count" int not null default 0, "created_at" timestamptz not null, "updated_at" timestamptz not null, "search_vector" tsvector generated always as (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, ''))) stored null, primary key ("id"));`,
    );
    this.addSql(`alter table "product" add constraint "product_slug_unique" unique ("slug");`);
    this.addSql(`create index "product_search_vector_idx" on "product" using gin ("search_vector");`);

    this.addSql(
      `create table "analytics_event" ("id" bigserial primary key, "name" varchar(64) not null, "product_id" uuid null, "occurred_at" timestamptz not null, "props" jsonb null);`,
    );
    this.addSql(`create index "analytics_event_product_id_name_index" on "analytics_event" ("product_id", "name");`);

    this.addSql(
      `create table "app_user" ("id" uuid not null, "email" varchar(320) not null, "name" varchar(200) not null, "role" text not null default 'customer', "password_hash" text not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`alter table "app_user" add constraint "app_user_email_unique" unique ("email");`);

    this.addSql(`alter table "product" add constraint "product_price_cents_check" check (price_cents >= 0);`);
    this.addSql(`alter table "product" add constraint "product_stock_check" check (stock >= 0);`);

    this.addSql(
      `alter table "analytics_event" add constraint "analytics_event_product_id_foreign" foreign key ("product_id") references "product" ("id") on delete set null;`,
    );

    this.addSql(`alter table "app_user" add constraint "app_user_role_check" check ("role" in ('customer', 'admin'));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "analytics_event" drop constraint "analytics_event_product_id_foreign";`);

    this.addSql(`drop table if exists "product" cascade;`);
    this.addSql(`drop table if exists "analytics_event" cascade;`);
    this.addSql(`drop table if exists "app_user" cascade;`);
  }
}
