import type { EntityManager } from '@mikro-orm/core';

/**
 * A timestamp column of a raw query's row as a Date. MikroORM's connection hands `timestamptz` back as
 * text; its platform parses it exactly as the ORM does for entities.
 */
export function rowDate(em: EntityManager, value: string | Date): Date {
  return value instanceof Date ? value : (em.getPlatform().parseDate(value) as Date);
}
