// Templates as synced from the WhatsApp Business Account, with a manual re-sync.
import { useState } from "preact/hooks";
import type { SectionProps } from "./App.js";
import { fill, useI18n } from "./strings.js";
import type { Template } from "./types.js";
import { CardHead, Loaded, StackTable, errorText, useLoad } from "./ui.js";

const statusTone = (s: string) => (s === "APPROVED" ? "good" : s === "PENDING" || s === "PAUSED" ? "warn" : s === "REJECTED" || s === "DISABLED" ? "bad" : undefined);
const qualityTone = (q?: string) => (q === "GREEN" ? "good" : q === "YELLOW" ? "warn" : q === "RED" ? "bad" : undefined);

/** Placeholder names of the header and the body, in order ({{1}}, {{2}} or named). */
export function parameterNames(tpl: Template): string[] {
  return [...(tpl.description?.header?.params ?? []), ...(tpl.description?.body?.params ?? [])];
}

export function Templates({ api }: SectionProps) {
  const { t } = useI18n();
  const [load, reload] = useLoad(() => api.templates(), [api], t);
  const [sync, setSync] = useState<{ kind: "idle" | "busy" } | { kind: "done"; n: number } | { kind: "error"; message: string }>({ kind: "idle" });

  const syncNow = async () => {
    setSync({ kind: "busy" });
    try {
      const r = await api.syncTemplates();
      setSync({ kind: "done", n: r.templates });
      reload();
    } catch (err) {
      setSync({ kind: "error", message: errorText(err, t) });
    }
  };

  return (
    <section class="cx-card">
      <CardHead title={t.templatesTitle}>
        {sync.kind === "done" && <span class="cx-ok">{fill(t.syncedCount, { n: sync.n })}</span>}
        <button type="button" class="cx-btn" data-testid="sync-templates" disabled={sync.kind === "busy"} onClick={syncNow}>
          {sync.kind === "busy" ? t.syncing : t.syncNow}
        </button>
      </CardHead>
      {sync.kind === "error" && <p class="cx-error">{sync.message}</p>}
      <Loaded load={load} onRetry={reload} isEmpty={(d) => d.templates.length === 0} emptyText={t.noTemplates}>
        {(data) => (
          <StackTable columns={[t.colName, t.colLanguage, t.colStatus, t.colQuality, t.colCategory, t.colParams]}>
            {data.templates.map((tpl) => (
              <tr key={tpl.id} data-testid="template-row">
                <td data-label={t.colName} class="cx-wrap">
                  <b>{tpl.name}</b>
                  {tpl.rejectedReason && tpl.rejectedReason !== "NONE" && <div class="cx-small cx-muted">{tpl.rejectedReason}</div>}
                </td>
                <td data-label={t.colLanguage}>{tpl.language}</td>
                <td data-label={t.colStatus}>
                  <span class="cx-badge" data-tone={statusTone(tpl.status)}>
                    {tpl.status}
                  </span>
                </td>
                <td data-label={t.colQuality}>
                  {tpl.qualityScore ? (
                    <span class="cx-badge" data-tone={qualityTone(tpl.qualityScore)}>
                      {tpl.qualityScore}
                    </span>
                  ) : (
                    t.none
                  )}
                </td>
                <td data-label={t.colCategory}>{tpl.category}</td>
                <td data-label={t.colParams} class="cx-wrap">
                  {parameterNames(tpl).length ? parameterNames(tpl).map((p) => `{{${p}}}`).join(" ") : t.none}
                </td>
              </tr>
            ))}
          </StackTable>
        )}
      </Loaded>
    </section>
  );
}
