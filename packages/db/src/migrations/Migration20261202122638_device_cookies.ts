import { Migration } from '@mikro-orm/migrations';

export class Migration20261202122638_device_cookies extends Migration {
  override name = 'Migration20261202122638_device_cookies';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "auth_device" ("id" uuid not null, "token_hash" varchar(64) not null, "user_id" uuid not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`alter table "auth_device" add constraint "auth_device_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create index "auth_device_user_id_index" on "auth_device" ("user_id");`);

    this.addSql(
      `alter table "auth_device" add constraint "auth_device_user_id_foreign" foreign key ("user_id") references "app_user" ("id") on delete cascade;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "auth_device" cascade;`);
  }
}
