import { Migration } from '@mikro-orm/migrations';

export class Migration20261121054207_accounts extends Migration {
  override name = 'Migration20261121054207_accounts';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "auth_throttle" ("bucket" varchar(32) not null, "key" varchar(320) not null, "hits" int not null default 0, "window_started_at" timestamptz not null, "blocked_until" timestamptz null, primary key ("bucket", "key"));`,
    );

    this.addSql(
      `create table "auth_session" ("id" uuid not null, "token_hash" varchar(64) not null, "user_id" uuid not null, "expires_at" timestamptz not null, "absolute_expires_at" timestamptz not null, "created_at" timestamptz not null, "last_used_at" timestamptz not null, "user_agent" varchar(512) null, "ip" varchar(64) null, primary key ("id"));`,
    );
    this.addSql(`alter table "auth_session" add constraint "auth_session_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create index "auth_session_user_id_index" on "auth_session" ("user_id");`);

    this.addSql(
      `create table "auth_token" ("id" uuid not null, "kind" text not null, "token_hash" varchar(64) not null, "user_id" uuid not null, "email" varchar(320) null, "expires_at" timestamptz not null, "used_at" timestamptz null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`alter table "auth_token" add constraint "auth_token_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create index "auth_token_user_id_index" on "auth_token" ("user_id");`);

    this.addSql(`alter table "app_user" add "email_verified_at" timestamptz null, add "disabled_at" timestamptz null;`);
    this.addSql(`alter table "app_user" alter column "password_hash" drop not null;`);

    this.addSql(
      `alter table "auth_session" add constraint "auth_session_user_id_foreign" foreign key ("user_id") references "app_user" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "auth_token" add constraint "auth_token_user_id_foreign" foreign key ("user_id") references "app_user" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "auth_token" add constraint "auth_token_kind_check" check ("kind" in ('verify_email', 'reset_password'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "auth_throttle" cascade;`);
    this.addSql(`drop table if exists "auth_session" cascade;`);
    this.addSql(`drop table if exists "auth_token" cascade;`);

    this.addSql(`alter table "app_user" drop column "email_verified_at", drop column "disabled_at";`);
    this.addSql(`alter table "app_user" alter column "password_hash" set not null;`);
  }
}
