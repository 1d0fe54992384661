import { Migration } from '@mikro-orm/migrations';

export class Migration20261121102741_notifications extends Migration {
  override name = 'Migration20261121102741_notifications';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "notification" ("id" uuid not null, "user_id" uuid not null, "kind" text not null, "title" varchar(200) not null, "body" varchar(1000) not null, "data" jsonb not null, "event_key" varchar(255) not null, "created_at" timestamptz not null, "read_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`alter table "notification" add constraint "notification_event_key_unique" unique ("event_key");`);
    this.addSql(`create index "notification_user_id_idx" on "notification" ("user_id", "id");`);
    this.addSql(`create index "notification_unread_idx" on "notification" ("user_id", "id") where "read_at" is null;`);

    this.addSql(
      `alter table "notification" add constraint "notification_user_id_foreign" foreign key ("user_id") references "app_user" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "notification" add constraint "notification_kind_check" check ("kind" in ('order_paid', 'order_shipped', 'payment_failed', 'report_ready'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "notification" cascade;`);
  }
}
