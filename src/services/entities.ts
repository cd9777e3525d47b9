import type { Clock } from "../clock.ts";
import type { Database } from "../db/index.ts";
import type { Entity } from "../db/schema.ts";
import { NotFoundError } from "./errors.ts";
import { uuidv7 } from "./ids.ts";

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
    async createEntity(name: string): Promise<EntityView> {
      const now = clock.now();
      const entity = await db
        .insertInto("entities")
        .values({ id: uuidv7(now), name, created_at: now })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toEntity(entity);
    },

    async listEntities(): Promise<EntityView[]> {
      const rows = await db.selectFrom("entities").selectAll().orderBy("id").execute();
      return rows.map(toEntity);
    },

    async requireEntity(id: string): Promise<Entity> {
      const entity = await db.selectFrom("entities").selectAll().where("id", "=", id).executeTakeFirst();
      if (!entity) throw new NotFoundError("entity_not_found", `No entity with id ${id}.`, "List entities with GET /admin/v1/entities.");
      return entity;
    },
  };
}

export type EntityService = ReturnType<typeof createEntityService>;
