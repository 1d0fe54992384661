import { singleLineText } from '@keelson/db';
import { z } from 'zod';

/** One line of text (see `singleLineText`): names and searches are shown, in emails and admin lists. */
const oneLine = () => z.string().regex(singleLineText.pattern, singleLineText.message);

export const emailSchema = z
  .string()
  .trim()
  .max(320)
  .pipe(z.email())
  .transform((e) => e.toLowerCase());
/** 8–256 characters (NIST SP 800-63B, OWASP ASVS 5.0 6.2.1/6.2.9); the common-password check runs in the service. */
export const passwordSchema = z.string().min(8).max(256);
export const nameSchema = oneLine().trim().min(1).max(200);
export const tokenSchema = z.string().min(16).max(256);
export const roleSchema = z.enum(['customer', 'admin']);

export const authUserDto = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string(),
  role: roleSchema,
  emailVerified: z.boolean(),
});

export const userDto = authUserDto.extend({
  createdAt: z.date(),
  disabled: z.boolean(),
});
export type UserDto = z.infer<typeof userDto>;

export const sessionDto = z.object({
  id: z.uuid(),
  userAgent: z.string().nullable(),
  ip: z.string().nullable(),
  createdAt: z.date(),
  lastUsedAt: z.date(),
  expiresAt: z.date(),
  current: z.boolean(),
});

export const listUsersInput = z.object({
  cursor: z.uuid().nullish(),
  limit: z.number().int().min(1).max(100).default(20),
  q: oneLine().trim().max(200).optional(),
  role: roleSchema.optional(),
});
export type ListUsersInput = z.input<typeof listUsersInput>;
