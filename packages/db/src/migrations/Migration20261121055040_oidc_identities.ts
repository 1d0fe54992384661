import { Migration } from '@mikro-orm/migrations';

export class Migration20261121055040_oidc_identities extends Migration {
  override name = 'Migration20261121055040_oidc_identities';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "auth_identity" ("id" uuid not null, "user_id" uuid not null, "issuer" varchar(512) not null, "subject" varchar(255) not null, "email" varchar(320) null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`create index "auth_identity_user_id_index" on "auth_identity" ("user_id");`);
    this.addSql(
      `alter table "auth_identity" add constraint "auth_identity_issuer_subject_unique" unique ("issuer", "subject");`,
    );

    this.addSql(
      `alter table "auth_identity" add constraint "auth_identity_user_id_foreign" foreign key ("user_id") references "app_user" ("id") on delete cascade;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "auth_identity" cascade;`);
  }
}
