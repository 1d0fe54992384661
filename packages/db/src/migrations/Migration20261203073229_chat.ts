import { Migration } from '@mikro-orm/migrations';

export class Migration20261203073229_chat extends Migration {
  override name = 'Migration20261203073229_chat';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "chat_conversation" ("id" uuid not null, "customer_id" uuid not null, "order_id" uuid null, "subject" varchar(200) not null, "status" text not null default 'open', "assignee_id" uuid null, "created_at" timestamptz not null, "last_message_at" timestamptz not null, "awaiting_staff_since" timestamptz null, "customer_read_id" uuid null, "staff_read_id" uuid null, primary key ("id"));`,
    );
    this.addSql(`create index "chat_conversation_customer_idx" on "chat_conversation" ("customer_id", "id");`);
    this.addSql(`create index "chat_conversation_status_idx" on "chat_conversation" ("status", "last_message_at");`);
    this.addSql(
      `create index "chat_conversation_awaiting_idx" on "chat_conversation" ("awaiting_staff_since") where "awaiting_staff_since" is not null;`,
    );

    this.addSql(
      `create table "chat_message" ("id" uuid not null, "conversation_id" uuid not null, "author_id" uuid null, "author_role" text not null, "body" varchar(2000) not null, "client_key" varchar(64) null, "created_at" timestamptz not null, "hidden_at" timestamptz null, "hidden_by_id" uuid null, primary key ("id"));`,
    );
    this.addSql(`create index "chat_message_conversation_idx" on "chat_message" ("conversation_id", "id");`);
    this.addSql(
      `alter table "chat_message" add constraint "chat_message_client_key_unique" unique ("conversation_id", "client_key");`,
    );

    this.addSql(`alter table "notification" drop constraint "notification_kind_check";`);
    this.addSql(
      `alter table "notification" add constraint "notification_kind_check" check ("kind" in ('order_paid', 'order_shipped', 'payment_failed', 'report_ready', 'chat_reply'));`,
    );

    this.addSql(
      `alter table "chat_conversation" add constraint "chat_conversation_customer_id_foreign" foreign key ("customer_id") references "app_user" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "chat_conversation" add constraint "chat_conversation_order_id_foreign" foreign key ("order_id") references "store_order" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "chat_conversation" add constraint "chat_conversation_assignee_id_foreign" foreign key ("assignee_id") references "app_user" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "chat_conversation" add constraint "chat_conversation_status_check" check ("status" in ('open', 'closed'));`,
    );

    this.addSql(
      `alter table "chat_message" add constraint "chat_message_conversation_id_foreign" foreign key ("conversation_id") references "chat_conversation" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "chat_message" add constraint "chat_message_author_id_foreign" foreign key ("author_id") references "app_user" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "chat_message" add constraint "chat_message_hidden_by_id_foreign" foreign key ("hidden_by_id") references "app_user" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "chat_message" add constraint "chat_message_author_role_check" check ("author_role" in ('customer', 'staff'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "chat_message" drop constraint "chat_message_conversation_id_foreign";`);

    this.addSql(`drop table if exists "chat_conversation" cascade;`);
    this.addSql(`drop table if exists "chat_message" cascade;`);

    this.addSql(`alter table "notification" drop constraint "notification_kind_check";`);
    this.addSql(
      `alter table "notification" add constraint "notification_kind_check" check ("kind" in ('order_paid', 'order_shipped', 'payment_failed', 'report_ready'));`,
    );
  }
}
