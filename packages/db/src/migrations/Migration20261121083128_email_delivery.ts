import { Migration } from '@mikro-orm/migrations';

export class Migration20261121083128_email_delivery extends Migration {
  override name = 'Migration20261121083128_email_delivery';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "email_delivery" ("key" varchar(255) not null, "kind" varchar(64) not null, "job_id" varchar(32) null, "attempts" int not null default 0, "claimed_until" timestamptz null, "message_id" varchar(255) null, "created_at" timestamptz not null, "sent_at" timestamptz null, primary key ("key"));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "email_delivery" cascade;`);
  }
}
