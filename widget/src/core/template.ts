// Template picker logic: option keys, parameter values, the live preview and the send payload.
import type { PanelTemplate } from "./types.js";

/** Option value of a template in the picker: name and language identify it together. */
export function templateKey(t: Pick<PanelTemplate, "name" | "language">): string {
  return `${t.name}|${t.language}`;
}

export function findTemplate(list: readonly PanelTemplate[], key: string): PanelTemplate | undefined {
  return list.find((t) => templateKey(t) === key);
}

/** Starting values: what the backend prefilled from the lead/contact, else empty. */
export function initialValues(t: PanelTemplate): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of t.params) out[p.key] = p.prefill ?? "";
  return out;
}

/** Replaces `{{key}}` (spaces allowed inside the braces) by its value; empty values keep the placeholder. */
export function fillPlaceholders(text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (m, key: string) => {
    const v = values[key];
    return v !== undefined && v.trim() !== "" ? v : m;
  });
}

export interface TemplatePreview {
  header?: string;
  body: string;
  footer?: string;
}

export function renderPreview(t: PanelTemplate, values: Readonly<Record<string, string>>): TemplatePreview {
  const out: TemplatePreview = { body: fillPlaceholders(t.body, values) };
  if (t.header) out.header = fillPlaceholders(t.header, values);
  if (t.footer) out.footer = t.footer;
  return out;
}

/** Keys of the parameters that are still empty. */
export function missingParams(t: PanelTemplate, values: Readonly<Record<string, string>>): string[] {
  return t.params.filter((p) => !(values[p.key] ?? "").trim()).map((p) => p.key);
}

/**
 * `template.params` of the send request: NAMED templates send an object keyed by parameter name,
 * POSITIONAL ones an array in key order ("1", "2", … numerically).
 */
export function paramsPayload(t: PanelTemplate, values: Readonly<Record<string, string>>): string[] | Record<string, string> {
  if (t.parameterFormat === "NAMED") {
    const out: Record<string, string> = {};
    for (const p of t.params) out[p.key] = (values[p.key] ?? "").trim();
    return out;
  }
  return [...t.params]
    .sort((a, b) => Number(a.key) - Number(b.key) || a.key.localeCompare(b.key))
    .map((p) => (values[p.key] ?? "").trim());
}
