import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AppError, notFound } from "../errors.js";

/** Flows shipped with the product, installable through the admin API. */
export const EXAMPLES = ["nps"] as const;
export type ExampleName = (typeof EXAMPLES)[number];

/**
 * The example's JSON as shipped (`backend/src/flows/examples/<name>.json`). Read from next to this
 * module, or from the source tree when running a build that did not copy the JSON files.
 */
export function loadExample(name: string): Record<string, unknown> {
  if (!(EXAMPLES as readonly string[]).includes(name)) throw notFound(`example flow ${name}`);
  const candidates = [fileURLToPath(new URL(`./examples/${name}.json`, import.meta.url)), join(process.cwd(), "backend", "src", "flows", "examples", `${name}.json`)];
  const file = candidates.find((f) => existsSync(f));
  if (!file) throw new AppError({ code: "example_missing", message: `the example flow ${name} is not installed with this build`, httpStatus: 500 });
  return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
}
