import { and, eq, isNull, or, sql } from 'drizzle-orm'
import { isUuid } from '#core/validation/uuid.ts'
import { users } from '#db/schema.ts'
import type { Database } from './client.ts'

/** A row of `users`. */
export type User = typeof users.$inferSelect

/** A user's role: `no_access` (pending approval), `member` or `admin`. */
export type Role = User['role']

/** What sign-in needs to know about existing rows for one Google identity. */
export type SignInCandidates = {
  /** the row already linked to this Google `sub` */
  bySub: User | undefined
  /** a row with this e-mail (case-insensitive), linked or not */
  byEmail: User | undefined
}

/** Whether a value is the SQLSTATE 23505 (unique violation), bare or wrapped by drizzle. */
export function isUniqueViolation(err: unknown): boolean {
  const codeOf = (value: unknown) =>
    value && typeof value === 'object' ? (value as { code?: unknown }).code : undefined
  return codeOf(err) === '23505' || codeOf((err as { cause?: unknown } | null)?.cause) === '23505'
}

/** The user with this id; `undefined` also for a string that is not a uuid (no query is sent). */
export async function findUserById(db: Database, id: string): Promise<User | undefined> {
  if (!isUuid(id)) {
    return undefined
  }
  const [user] = await db.select().from(users).where(eq(users.id, id))
  return user
}

/** The rows matching a Google identity by `sub` or by e-mail, in one round trip. */
export async function findSignInCandidates(
  db: Database,
  identity: { googleSub: string; email: string },
): Promise<SignInCandidates> {
  const email = identity.email.toLowerCase()
  const rows = await db
    .select()
    .from(users)
    .where(or(eq(users.googleSub, identity.googleSub), sql`lower(${users.email}) = ${email}`))
  return {
    bySub: rows.find((row) => row.googleSub === identity.googleSub),
    byEmail: rows.find((row) => row.email.toLowerCase() === email),
  }
}

/**
 * Creates a user linked to a Google identity. `undefined` when a row with this `sub` or e-mail
 * appeared meanwhile (a concurrent first sign-in): the caller looks again.
 */
export async function insertUser(
  db: Database,
  values: { googleSub: string; email: string; name: string; role: Role },
): Promise<User | undefined> {
  const [user] = await db.insert(users).values(values).onConflictDoNothing().returning()
  return user
}

/**
 * Links a pre-provisioned row to its Google `sub`, once: a row already linked is left alone.
 * `undefined` when the row was linked meanwhile or the `sub` was taken by another row.
 */
export async function linkGoogleSub(
  db: Database,
  id: string,
  googleSub: string,
  at: Date,
): Promise<User | undefined> {
  try {
    const [user] = await db
      .update(users)
      .set({ googleSub, updatedAt: at })
      .where(and(eq(users.id, id), isNull(users.googleSub)))
      .returning()
    return user
  } catch (err) {
    if (isUniqueViolation(err)) {
      return undefined
    }
    throw err
  }
}

/**
 * Records an accepted sign-in: last login time, the name Google reports (when it has one) and,
 * for an `ADMIN_EMAILS` address, the admin role. Only active rows are touched.
 */
export async function recordSignIn(
  db: Database,
  id: string,
  change: { at: Date; name: string | undefined; promoteToAdmin: boolean },
): Promise<User | undefined> {
  const [user] = await db
    .update(users)
    .set({
      lastLoginAt: change.at,
      updatedAt: change.at,
      ...(change.name && { name: change.name }),
      ...(change.promoteToAdmin && { role: 'admin' as const }),
    })
    .where(and(eq(users.id, id), eq(users.isActive, true)))
    .returning()
  return user
}

/** Bumps the token version, which ends every session of the user. */
export async function bumpTokenVersion(
  db: Database,
  id: string,
  at: Date,
): Promise<User | undefined> {
  const [user] = await db
    .update(users)
    .set({ tokenVersion: sql`${users.tokenVersion} + 1`, updatedAt: at })
    .where(eq(users.id, id))
    .returning()
  return user
}
