import type { z } from "zod";
import { badRequest } from "../errors.js";

/** Parses a request part with zod; the first problem becomes a 400 naming the field. */
export function validate<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.join(".") || undefined;
  const message = issue.code === "unrecognized_keys" ? `unknown field ${issue.keys.map((k) => `'${k}'`).join(", ")}` : issue.message;
  const unknownField = issue.code === "unrecognized_keys" ? issue.keys[0] : undefined;
  return failWith(field ?? unknownField, message);
}

function failWith(field: string | undefined, message: string): never {
  throw badRequest(field ? `${field}: ${message}` : message, field);
}
