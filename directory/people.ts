import { and, asc, eq, isNull } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';

/** What every colleague may see of a person: the name a company directory shows. */
export interface PersonName {
  id: string;
  name: string;
}

/** A person's display name, active or not (old requests still name people who left). */
export async function findPersonName(db: DB, id: string): Promise<PersonName | undefined> {
  const [person] = await db
    .select({ id: t.users.id, name: t.users.name })
    .from(t.users)
    .where(eq(t.users.id, id))
    .limit(1);
  return person;
}

/** The active people with their role's name, by name: the dev sign-in page lists them. */
export async function listActivePeople(db: DB): Promise<(PersonName & { role: string })[]> {
  return db
    .select({ id: t.users.id, name: t.users.name, role: t.roles.name })
    .from(t.users)
    .innerJoin(t.roles, eq(t.roles.id, t.users.roleId))
    .where(and(eq(t.users.active, true), isNull(t.users.removedAt)))
    .orderBy(asc(t.users.name));
}
