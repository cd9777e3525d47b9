import type { Clock } from "../kernel/clock.ts";
import type { Database } from "../db/index.ts";
import type { Entity } from "../db/schema.ts";
import type { AuditActor } from "./audit.ts";
import { recordChange } from "./record-change.ts";
import { NotFoundError } from "../kernel/errors.ts";
import { uuidv7 } from "../kernel/ids.ts";

export interface EntityView {
  id: string;
  name: string;
  created_at: string;
}

export function toEntity(e: Entity): EntityView {
  return { id: e.id, name: e.name, created_at: e.created_at.toISOString() };
}

export function createEntityService({ db, clock }: { db: Database; clock: Clock }) {
  return {
    async createEntity(name: string, actor: AuditActor): Promise<EntityView> {
      const now = clock.now();
      return db.transaction().execute(async (trx) => {
        const entity = await trx
          .insertInto("entities")
          .values({ id: uuidv7(now), name, created_at: now })
          .returningAll()
          .executeTakeFirstOrThrow();
        // In the new entity's own log: its first entry.
        await recordChange(trx, { entityId: entity.id, actor, action: "entity.created", target: { type: "entity", id: entity.id }, changes: { name: { before: null, after: name } }, at: now });
        return toEntity(entity);
      });
    },

    async listEntities(): Promise<EntityView[]> {
      const rows = await db.selectFrom("entities").selectAll().orderBy("id").execute();
      return rows.map(toEntity);
    },

    async requireEntity(id: string): Promise<Entity> {
      const entity = await db.selectFrom("entities").selectAll().where("id", "=", id).executeTakeFirst();
      if (!entity) throw new NotFoundError("entity_not_found", `No entity with id ${id}.`, { to: "list_entities" });
      return entity;
    },
  };
}

export type EntityService = ReturnType<typeof createEntityService>;

/** Locks the entity's row for the caller's transaction (a lock that keeps per-entity counts honest); throws when it is gone. */
export async function lockEntity(trx: Database, id: string): Promise<void> {
  await trx.selectFrom("entities").select("id").where("id", "=", id).forUpdate().executeTakeFirstOrThrow();
}
