import { Migration } from '@mikro-orm/migrations';

export class Migration20261121094233_events extends Migration {
  override name = 'Migration20261121094233_events';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "app_event" ("id" bigserial primary key, "topic" varchar(32) not null, "user_id" uuid null, "payload" jsonb not null, "created_at" timestamptz not null default now());`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "app_event" cascade;`);
  }
}
