import { Migration } from '@mikro-orm/migrations';

export class Migration20261121083143_reports extends Migration {
  override name = 'Migration20261121083143_reports';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "report" ("id" uuid not null, "kind" text not null, "status" text not null default 'pending', "params" jsonb not null, "requested_by_id" uuid null, "row_count" int null, "byte_size" bigint null, "chunk_count" int null, "error" varchar(1000) null, "created_at" timestamptz not null, "completed_at" timestamptz null, primary key ("id"));`,
    );

    this.addSql(
      `create table "report_chunk" ("report_id" uuid not null, "seq" int not null, "data" text not null, primary key ("report_id", "seq"));`,
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

    this.addSql(`drop table if exists "report" cascade;`);
    this.addSql(`drop table if exists "report_chunk" cascade;`);
  }
}
