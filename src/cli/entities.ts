import type { EntityView } from "../services/entities.ts";
import type { CommandContext } from "./context.ts";
import { CliError, table } from "./output.ts";

export async function entitiesCommand({ args, flags, admin, out }: CommandContext): Promise<void> {
  const [sub] = args;
  if (sub === "create") {
    const name = flags.name;
    if (typeof name !== "string" || !name) throw new CliError("entities create needs --name.", 'npx patchbay entities create --name "Acme Inc"');
    const entity = await admin<EntityView>("POST", "/admin/v1/entities", { name });
    out.result(entity, () => `Created entity ${entity.name}\n  id: ${entity.id}`);
    return;
  }
  if (sub === "list") {
    const { data } = await admin<{ data: EntityView[] }>("GET", "/admin/v1/entities");
    out.result(data, () => table(data as unknown as Record<string, unknown>[], ["id", "name", "created_at"]));
    return;
  }
  throw new CliError(`Unknown command "entities ${sub ?? ""}".`, "Use `entities create --name NAME` or `entities list`.");
}
