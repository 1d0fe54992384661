import { Migration } from '@mikro-orm/migrations';

export class Migration20261121083613_analytics extends Migration {
  override name = 'Migration20261121083613_analytics';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "analytics_funnel_hourly" ("hour" timestamptz not null, "product_viewed" int not null, "add_to_cart" int not null, "checkout_started" int not null, "checkout_completed" int not null, primary key ("hour"));`,
    );

    this.addSql(
      `create table "analytics_hourly" ("id" bigserial primary key, "hour" timestamptz not null, "name" varchar(64) not null, "product_id" uuid null, "count" int not null);`,
    );
    this.addSql(`create index "analytics_hourly_hour_idx" on "analytics_hourly" ("hour", "name");`);

    this.addSql(
      `alter table "analytics_event" add "user_id" uuid null, add "received_at" timestamptz not null default now();`,
    );
    this.addSql(
      `alter table "analytics_event" add constraint "analytics_event_user_id_foreign" foreign key ("user_id") references "app_user" ("id") on delete set null;`,
    );
    this.addSql(`create index "analytics_event_occurred_at_idx" on "analytics_event" ("occurred_at");`);
    this.addSql(`create index "analytics_event_received_at_idx" on "analytics_event" ("received_at");`);

    this.addSql(
      `alter table "analytics_hourly" add constraint "analytics_hourly_product_id_foreign" foreign key ("product_id") references "product" ("id") on delete cascade;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "analytics_funnel_hourly" cascade;`);
    this.addSql(`drop table if exists "analytics_hourly" cascade;`);

    this.addSql(`alter table "analytics_event" drop constraint "analytics_event_user_id_foreign";`);

    this.addSql(`drop index "analytics_event_occurred_at_idx";`);
    this.addSql(`drop index "analytics_event_received_at_idx";`);
    this.addSql(`alter table "analytics_event" drop column "user_id", drop column "received_at";`);
  }
}
