// Language picking and string tables shared by the pages and the CRM panel core. Each surface
// keeps its own tables (`en` the source of truth, `ru` with the same keys).

export type Lang = "en" | "ru";

/** "ru", "ru-RU", "RU" → ru; everything else → en. */
export function pickLang(language: string | undefined): Lang {
  return (language ?? "").toLowerCase().startsWith("ru") ? "ru" : "en";
}

/** The browser's language (en outside a browser). */
export function browserLang(): Lang {
  return pickLang(typeof navigator !== "undefined" ? navigator.language : undefined);
}

/** `defaults` overlaid with the string values of known keys in `overrides` (a host's own texts). */
export function overlayStrings<T extends Record<string, string>>(defaults: T, overrides?: unknown): T {
  const out: T = { ...defaults };
  if (overrides && typeof overrides === "object") {
    for (const key of Object.keys(out) as (keyof T)[]) {
      const v = (overrides as Record<keyof T, unknown>)[key];
      if (typeof v === "string" && v) out[key] = v as T[keyof T];
    }
  }
  return out;
}

/** "Transfer to {name}" + {name: "Art Play"} → "Transfer to Art Play". Unknown placeholders stay. */
export function fill(text: string, vars: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (m, k: string) => (Object.prototype.hasOwnProperty.call(vars, k) ? String(vars[k]) : m));
}

/** Keys one table has and the other lacks, both ways (a test guard; the types enforce it at build time). */
export function keyMismatch(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...Object.keys(a).filter((k) => !(k in b)), ...Object.keys(b).filter((k) => !(k in a))];
}
