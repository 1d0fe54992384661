/** Administration of accounts: listing, roles, disabling. Callers have already checked the admin role. */
import { type Database, User, type UserRole } from '@keelson/db';
import { AppError } from '@keelson/errors';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from 'kysely';
import { type ListUsersInput, listUsersInput, type UserDto } from './schemas.ts';
import { invalidateUserSessions } from './sessions.ts';

function toUserDto(u: User): UserDto {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role,
    emailVerified: u.emailVerifiedAt != null,
    createdAt: u.createdAt,
    disabled: u.disabledAt != null,
  };
}

/** Newest first, keyset-paginated on the UUIDv7 id; `q` matches email or name. */
export async function listUsers(
  em: EntityManager,
  input: ListUsersInput,
): Promise<{ items: UserDto[]; nextCursor: string | null }> {
  const { cursor, limit, q, role } = listUsersInput.parse(input);
  const qb = em
    .createQueryBuilder(User, 'u')
    .orderBy({ id: 'desc' })
    .limit(limit + 1);
  if (cursor) qb.andWhere({ id: { $lt: cursor } });
  if (role) qb.andWhere({ role });
  if (q) {
    const like = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    qb.andWhere({ $or: [{ email: { $ilike: like } }, { name: { $ilike: like } }] });
  }
  const rows = await qb.getResultList();
  const items = rows.slice(0, limit).map(toUserDto);
  return { items, nextCursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
}

async function findUser(em: EntityManager, id: string): Promise<User> {
  const user = await em.findOne(User, id);
  if (!user) throw new AppError('USER_NOT_FOUND', { details: { id } });
  return user;
}

export async function getUser(em: EntityManager, id: string): Promise<UserDto> {
  return toUserDto(await findUser(em, id));
}

/**
 * Refuses to leave the system without an active admin. The transaction-scoped advisory lock serialises
 * concurrent demotions and disablings, which could otherwise each see "another admin remains".
 */
async function assertNotLastAdmin(em: EntityManager, user: User): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('keelson:admins'))`.execute(em.getKysely<Database>());
  await em.refresh(user);
  if (user.role !== 'admin' || user.disabledAt) return;
  const admins = await em.count(User, { role: 'admin', disabledAt: null });
  if (admins <= 1) throw new AppError('CONFLICT', { message: 'This is the last active admin.' });
}

export async function setRole(em: EntityManager, input: { id: string; role: UserRole }): Promise<UserDto> {
  return em.transactional(async (tx) => {
    const user = await findUser(tx, input.id);
    if (input.role !== 'admin') await assertNotLastAdmin(tx, user);
    user.role = input.role;
    await tx.flush();
    return toUserDto(user);
  });
}

/** Disabling ends every session at once and blocks log-in until enabled again. */
export async function disableUser(em: EntityManager, input: { id: string; actorId: string }): Promise<UserDto> {
  if (input.id === input.actorId) throw new AppError('CONFLICT', { message: 'You cannot disable your own account.' });
  return em.transactional(async (tx) => {
    const user = await findUser(tx, input.id);
    await assertNotLastAdmin(tx, user);
    user.disabledAt ??= new Date();
    await tx.flush();
    await invalidateUserSessions(tx, user.id);
    return toUserDto(user);
  });
}

export async function enableUser(em: EntityManager, id: string): Promise<UserDto> {
  const user = await findUser(em, id);
  user.disabledAt = null;
  await em.flush();
  return toUserDto(user);
}

export async function revokeUserSessions(em: EntityManager, id: string): Promise<{ revoked: number }> {
  await findUser(em, id);
  return { revoked: await invalidateUserSessions(em, id) };
}
