import { Migration } from '@mikro-orm/migrations';

export class Migration20261121085858_background extends Migration {
  override name = 'Migration20261121085858_background';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "analytics_funnel_hourly" ("hour" timestamptz not null, "product_viewed" int not null, "add_to_cart" int not null, "checkout_started" int not null, "checkout_completed" int not null, primary key ("hour"));`,
    );

    this.addSql(
      `create table "email_delivery" ("key" varchar(255) not null, "kind" varchar(64) not null, "job_id" varchar(32) null, "attempts" int not null default 0, "claimed_until" timestamptz null, "message_id" varchar(255) null, "created_at" timestamptz not null, "sent_at" timestamptz null, primary key ("key"));`,
    );

    this.addSql(
      `create table "analytics_hourly" ("id" bigserial primary key, "hour" timestamptz not null, "name" varchar(64) not null, "product_id" uuid null, "count" int not null);`,
    );
    this.addSql(`create index "analytics_hourly_hour_idx" on "analytics_hourly" ("hour", "name");`);

    this.addSql(
      `create table "report" ("id" uuid not null, "kind" text not null, "status" text not null default 'pending', "params" jsonb not null, "schedule_key" varchar(100) null, "requested_by_id" uuid null, "row_count" int null, "byte_size" bigint null, "chunk_count" int null, "error" varchar(1000) null, "created_at" timestamptz not null, "completed_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`alter table "report" add constraint "report_schedule_key_unique" unique ("schedule_key");`);

    this.addSql(
      `create table "report_chunk" ("report_id" uuid not null, "seq" int not null, "data" text not null, primary key ("report_id", "seq"));`,
    );

    this.addSql(
      `create table "worker_heartbeat" ("worker_id" varchar(64) not null, "hostname" varchar(255) not null, "pid" int not null, "started_at" timestamptz not null, "beat_at" timestamptz not null, primary key ("worker_id"));`,
    );
    this.addSql(`create index "worker_heartbeat_beat_at_index" on "worker_heartbeat" ("beat_at");`);

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

    this.addSql(
      `alter table "report" add constraint "report_requested_by_id_foreign" foreign key ("requested_by_id") references "app_user" ("id") on delete set null;`,
    );
    this.addSql(`alter table "report" add constraint "report_kind_check" check ("kind" in ('sales'));`);
    this.addSql(
      `alter table "report" add constraint "report_status_check" check ("status" in ('pending', 'ready', 'failed'));`,
    );

    this.addSql(
      `alter table "report_chunk" add constraint "report_chunk_report_id_foreign" foreign key ("report_id") references "report" ("id") on delete cascade;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "report_chunk" drop constraint "report_chunk_report_id_foreign";`);

    this.addSql(`drop table if exists "analytics_funnel_hourly" cascade;`);
    this.addSql(`drop table if exists "email_delivery" cascade;`);
    this.addSql(`drop table if exists "analytics_hourly" cascade;`);
    this.addSql(`drop table if exists "report" cascade;`);
    this.addSql(`drop table if exists "report_chunk" cascade;`);
    this.addSql(`drop table if exists "worker_heartbeat" cascade;`);

    this.addSql(`alter table "analytics_event" drop constraint "analytics_event_user_id_foreign";`);

    this.addSql(`drop index "analytics_event_occurred_at_idx";`);
    this.addSql(`drop index "analytics_event_received_at_idx";`);
    this.addSql(`alter table "analytics_event" drop column "user_id", drop column "received_at";`);
  }
}
