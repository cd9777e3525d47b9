/** The schema helpers live in the kernel (services build schemas with them too). */
export * from "../../kernel/schema-types.ts";
