// Operators: the entities (list, create) and a way into each one's keys.
import { useEffect, useState } from "preact/hooks";
import { call, useAction } from "../api.js";
import { Field } from "../schema-form.jsx";
import { ActionButton, Empty, ErrorNote, usePages, when } from "../ui.jsx";

/** Opens Developers › API keys on this entity (the pages share the chosen entity for this tab). */
function openKeys(entity) {
  sessionStorage.setItem("patchbay.console.entity", entity.id);
  history.pushState(null, "", "/console/keys");
  dispatchEvent(new PopStateEvent("popstate"));
}

export function useEntities(cred) {
  const [entities, setEntities] = useState(null);
  const [error, setError] = useState(null);
  async function reload() {
    try {
      setEntities((await call(cred, "GET", "/admin/v1/entities")).data);
    } catch (err) {
      setError(err);
    }
  }
  useEffect(() => {
    reload();
  }, []);
  return { entities, error, reload };
}

/** Picks the entity an operator page acts on (remembered for this tab). */
export function EntityPicker({ cred, value, onChange }) {
  const { entities, error } = useEntities(cred);
  useEffect(() => {
    if (entities && entities.length > 0 && !entities.some((e) => e.id === value)) onChange(entities[entities.length - 1].id);
  }, [entities]);
  if (error) return <ErrorNote error={error} />;
  if (!entities) return <p>Loading entities…</p>;
  if (entities.length === 0) return <Empty>No entity yet: create one under Entities first.</Empty>;
  return (
    <Field label="Entity">
      {(p) => (
        <select {...p} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
          {entities.map((e) => (
            <option value={e.id} key={e.id}>
              {e.name} ({e.id})
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

export function EntitiesPage({ cred }) {
  const { entities, error, reload } = useEntities(cred);
  const [name, setName] = useState("");
  const create = useAction(cred);
  const { rows, pager } = usePages(entities || []);
  async function submit(e) {
    e.preventDefault();
    const r = await create.run("POST", "/admin/v1/entities", { name });
    if (r.ok) {
      setName("");
      reload();
    }
  }
  return (
    <>
      <form class="inline" onSubmit={submit}>
        <Field label="New entity's name" error={create.error?.fields?.name}>
          {(p) => <input {...p} name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />}
        </Field>
        <button type="submit" disabled={create.running}>
          {create.running ? "Creating…" : "Create entity"}
        </button>
      </form>
      <ErrorNote error={create.error} skipFields={["name"]} />
      <ErrorNote error={error} />
      {entities && entities.length === 0 && <Empty>No entity yet. Create one above, then give it an API key under Developers › API keys.</Empty>}
      {entities && entities.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Entities</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">ID</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((e) => (
                <tr key={e.id}>
                  <td>{e.name}</td>
                  <td>
                    <code>{e.id}</code>
                  </td>
                  <td>{when(e.created_at)}</td>
                  <td>
                    <button type="button" onClick={() => openKeys(e)}>
                      API keys of {e.name}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {pager}
    </>
  );
}
