/**
 * A page of the inbox and its unread count come from one snapshot: while notifications are filed and
 * marked read, the count always equals the unread items of a page that holds the whole inbox.
 */
import { listNotifications, markRead, notify } from '@keelson/notifications';
import { createUsers, useTestOrm } from '@keelson/testing';
import { describe, expect, it } from 'vitest';

const FILED = 60;
const READERS = 6;

describe('listNotifications under concurrent filing and marking', () => {
  const t = useTestOrm({ poolMax: 10 });
  const fork = () => t.orm.em.fork();

  it('answers an unread count that matches the page read with it', { timeout: 120_000 }, async () => {
    const [user] = await createUsers(t.db.url, 1);
    const userId = user!.id;
    let writing = true;
    const writers = (async () => {
      for (let i = 0; i < FILED; i++) {
        const filed = await fork().transactional((tx) =>
          notify(tx, {
            userId,
            kind: 'order_paid',
            title: `Order ${i} is paid`,
            body: 'Thank you.',
            data: { i },
            eventKey: `test:${crypto.randomUUID()}`,
          }),
        );
        // Every other one is read at once: the unread count goes up and down.
        if (filed && i % 2 === 0) await markRead(fork(), userId, { ids: [filed.id] });
      }
    })().finally(() => {
      writing = false;
    });

    let reads = 0;
    const torn: { unreadCount: number; unreadItems: number }[] = [];
    const readers = Array.from({ length: READERS }, async () => {
      while (writing) {
        const page = await listNotifications(fork(), userId, { limit: 100 });
        reads++;
        const unreadItems = page.items.filter((n) => n.readAt === null).length;
        if (page.unreadCount !== unreadItems) torn.push({ unreadCount: page.unreadCount, unreadItems });
      }
    });
    await Promise.all([writers, ...readers]);

    console.info(`listNotifications snapshot: ${reads} reads during ${FILED * 1.5} commits, ${torn.length} torn`);
    expect(reads).toBeGreaterThan(FILED);
    expect(torn).toEqual([]);
    expect((await listNotifications(fork(), userId, { limit: 100 })).unreadCount).toBe(FILED / 2);
  });
});
