// Forms rendered from a connector type's config_schema (the catalog's JSON
// Schema): a human label and help text per field, client-side checks with
// plain-language messages, and the API's own message shown next to the field
// it names.
import { useId } from "./ui.jsx";

const WORDS = { id: "ID", url: "URL", api: "API", zip: "ZIP", sms: "SMS", ups: "UPS", usps: "USPS", ein: "EIN", ai: "AI", oauth: "OAuth", sku: "SKU" };

/** `ship_from_address1` → "Ship from address 1"; `publishable_key` → "Publishable key". */
export function humanize(name) {
  const words = name
    .replace(/([a-z])([0-9])/g, "$1 $2")
    .split(/[_\s.]+/)
    .filter(Boolean)
    .map((w) => WORDS[w.toLowerCase()] || w.toLowerCase());
  if (words.length === 0) return name;
  words[0] = words[0][0].toUpperCase() + words[0].slice(1);
  return words.join(" ");
}

// What the common patterns of the catalog mean, for a person.
const PATTERN_HELP = [
  [/^\^\[a-z\]\{3\}\$$/, "Three lowercase letters, an ISO currency code such as usd or eur."],
  [/^\^\[A-Z\]\{2\}\$$/, "Two capital letters, such as US or DE."],
  [/^\^\[0-9\]\{(\d+)\}\$$/, (m) => `Exactly ${m[1]} digits.`],
  [/^\^([a-z_]+)_\[A-Za-z0-9\]\+\$$/, (m) => `Starts with ${m[1]}_ followed by letters and digits.`],
];

function choices(schema) {
  if (Array.isArray(schema.enum)) return schema.enum;
  if (Array.isArray(schema.anyOf) && schema.anyOf.every((s) => "const" in s)) return schema.anyOf.map((s) => s.const);
  return null;
}

function kindOf(schema) {
  if (choices(schema)) return "choice";
  if (schema.type === "boolean") return "boolean";
  if (schema.type === "integer" || schema.type === "number") return "number";
  if (schema.type === "object") return "map";
  if (schema.type === "array") return "list";
  return "text";
}

/** The help line under a field: its description, then what its constraints mean. */
export function helpFor(schema) {
  const parts = [];
  if (schema.description) parts.push(schema.description);
  if (schema.pattern) {
    const known = PATTERN_HELP.find(([re]) => re.test(schema.pattern));
    if (known) parts.push(typeof known[1] === "function" ? known[1](schema.pattern.match(known[0])) : known[1]);
  }
  if (schema.minLength && schema.maxLength) parts.push(`${schema.minLength} to ${schema.maxLength} characters.`);
  else if (schema.maxLength) parts.push(`At most ${schema.maxLength} characters.`);
  if (schema.minimum !== undefined && schema.maximum !== undefined) parts.push(`From ${schema.minimum} to ${schema.maximum}.`);
  if (kindOf(schema) === "map") parts.push("One name=value pair per line.");
  if (kindOf(schema) === "list") parts.push("Separate values with commas.");
  return parts.join(" ");
}

/** A plain-language reason a value breaks its schema, or null. */
export function problemWith(schema, value, label) {
  if (value === undefined || value === "" || value === null) return null;
  const kind = kindOf(schema);
  if (kind === "text") {
    if (schema.minLength && value.length < schema.minLength) return `${label} needs at least ${schema.minLength} characters.`;
    if (schema.maxLength && value.length > schema.maxLength) return `${label} takes at most ${schema.maxLength} characters.`;
    if (schema.pattern && !new RegExp(schema.pattern).test(value)) return `${label} is not in the expected form. ${helpFor(schema)}`.trim();
  }
  if (kind === "number") {
    if (Number.isNaN(value)) return `${label} must be a number.`;
    if (schema.minimum !== undefined && value < schema.minimum) return `${label} must be at least ${schema.minimum}.`;
    if (schema.maximum !== undefined && value > schema.maximum) return `${label} must be at most ${schema.maximum}.`;
  }
  return null;
}

/** The form's values as the API wants them (empty fields left out). */
export function configFrom(schema, raw) {
  const out = {};
  for (const [name, field] of Object.entries(schema.properties || {})) {
    const value = raw[name];
    if (value === undefined || value === "") continue;
    const kind = kindOf(field);
    if (kind === "number") out[name] = Number(value);
    else if (kind === "boolean") out[name] = Boolean(value);
    else if (kind === "map") {
      const map = {};
      for (const line of String(value).split("\n")) {
        const at = line.indexOf("=");
        if (at > 0) map[line.slice(0, at).trim()] = line.slice(at + 1).trim();
      }
      out[name] = map;
    } else if (kind === "list") out[name] = String(value).split(",").map((s) => s.trim()).filter(Boolean);
    else out[name] = value;
  }
  return out;
}

/** The form's starting values from a stored config. */
export function rawFrom(schema, config) {
  const raw = {};
  for (const [name, field] of Object.entries(schema.properties || {})) {
    const value = config?.[name];
    if (value === undefined || value === null) continue;
    const kind = kindOf(field);
    if (kind === "map") raw[name] = Object.entries(value).map(([k, v]) => `${k}=${v}`).join("\n");
    else if (kind === "list") raw[name] = value.join(", ");
    else raw[name] = value;
  }
  return raw;
}

/** Client-side problems of the whole form, keyed like the API's `param` (config.<field>). */
export function problemsOf(schema, raw, prefix = "config.") {
  const problems = {};
  for (const [name, field] of Object.entries(schema.properties || {})) {
    const value = kindOf(field) === "number" && raw[name] !== undefined && raw[name] !== "" ? Number(raw[name]) : raw[name];
    const problem = problemWith(field, value, humanize(name));
    if (problem) problems[prefix + name] = problem;
  }
  return problems;
}

/** One labelled input with its help and its error. */
export function Field({ label, help, error, required, children }) {
  const id = useId("field");
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const describedBy = [help ? helpId : null, error ? errorId : null].filter(Boolean).join(" ") || undefined;
  return (
    <div class={`field ${error ? "invalid" : ""}`}>
      <label for={id}>
        {label}
        {required && <span class="muted"> (required)</span>}
      </label>
      {children({ id, "aria-describedby": describedBy, "aria-invalid": error ? "true" : undefined, required })}
      {help && (
        <p class="help" id={helpId}>
          {help}
        </p>
      )}
      {error && (
        <p class="field-error" id={errorId}>
          {error}
        </p>
      )}
    </div>
  );
}

/** The inputs of one JSON Schema object, named `config.<field>` for errors. */
export function SchemaFields({ schema, raw, onChange, errors, prefix = "config." }) {
  const entries = Object.entries(schema.properties || {});
  if (entries.length === 0) return null;
  return entries.map(([name, field]) => {
    const label = humanize(name);
    const kind = kindOf(field);
    const set = (v) => onChange({ ...raw, [name]: v });
    const error = errors[prefix + name];
    if (kind === "boolean") {
      const id = `cfg-${name}`;
      return (
        <div class="field check" key={name}>
          <input type="checkbox" id={id} name={name} checked={Boolean(raw[name])} onChange={(e) => set(e.currentTarget.checked)} />
          <label for={id}>{label}</label>
          {error && <p class="field-error">{error}</p>}
        </div>
      );
    }
    return (
      <Field key={name} label={label} help={helpFor(field)} error={error}>
        {(props) =>
          kind === "choice" ? (
            <select {...props} name={name} value={raw[name] ?? ""} onChange={(e) => set(e.currentTarget.value)}>
              <option value="">Provider default</option>
              {choices(field).map((c) => (
                <option value={c} key={c}>
                  {humanize(String(c))}
                </option>
              ))}
            </select>
          ) : kind === "map" ? (
            <textarea {...props} name={name} rows="3" value={raw[name] ?? ""} onInput={(e) => set(e.currentTarget.value)} />
          ) : (
            <input {...props} name={name} type={kind === "number" ? "number" : "text"} spellcheck={false} value={raw[name] ?? ""} onInput={(e) => set(e.currentTarget.value)} />
          )
        }
      </Field>
    );
  });
}

/**
 * The message to show for a field the API refused: the API's own words,
 * except a bare validator phrase ("must match pattern …"), which becomes what
 * the field expects.
 */
export function apiFieldMessage(schemaField, name, message) {
  if (/must NOT have fewer than 1 characters|is required/.test(message)) return `${humanize(name)} is required.`;
  if (schemaField && /must match pattern|must be|must NOT have/.test(message)) {
    return `${humanize(name)} is not in the expected form. ${helpFor(schemaField)}`.trim();
  }
  return message;
}
