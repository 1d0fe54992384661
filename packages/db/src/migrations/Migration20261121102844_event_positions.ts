import { Migration } from '@mikro-orm/migrations';

export class Migration20261121102844_event_positions extends Migration {
  override name = 'Migration20261121102844_event_positions';

  override up(): void | Promise<void> {
    this.addSql(`create table "app_event_pruned" ("id" smallint primary key, "position" bigint not null);`);

    this.addSql(`alter table "app_event" add "position" bigint null;`);
    // HAND-EDITED: rows written before this migration committed in id order (under the old advisory
    // lock), so their ids are valid positions, and cursors clients already hold stay meaningful.
    this.addSql(`update "app_event" set "position" = "id";`);
    this.addSql(`alter table "app_event" add constraint "app_event_position_unique" unique ("position");`);
    this.addSql(`create index "app_event_unsequenced_idx" on "app_event" ("id") where "position" is null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "app_event_pruned" cascade;`);

    this.addSql(`alter table "app_event" drop constraint "app_event_position_unique";`);
    this.addSql(`drop index "app_event_unsequenced_idx";`);
    this.addSql(`alter table "app_event" drop column "position";`);
  }
}
