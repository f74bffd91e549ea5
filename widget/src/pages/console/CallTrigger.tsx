// The branch's call trigger: which approved template answers a caller (POST /api/v1/calls), its
// parameters, the network-wide cooldown and which calls it answers. Saved with PATCH /branches/:id.
import { useState } from "preact/hooks";
import type { SectionProps } from "./App.js";
import { templateKey, splitTemplateKey } from "./campaign-form.js";
import { useI18n } from "./strings.js";
import type { CallEvent, PublicBranch, Template } from "./types.js";
import { BranchSelect, Field, Loading, SaveRow, splitList, useLoad, useSaveForm } from "./ui.js";

export function CallTriggerCard({ api, version }: SectionProps & { version: number }) {
  const { t } = useI18n();
  const [data, reload] = useLoad(async () => {
    const [branches, templates] = await Promise.all([api.branches(), api.templates()]);
    return { branches, templates: templates.templates.filter((x) => x.status === "APPROVED") };
  }, [api, version], t);
  const [id, setId] = useState("");
  const branches = data.state === "ready" ? data.data.branches : [];
  const branch = branches.find((b) => b.id === id) ?? branches[0];
  return (
    <section class="cx-card" data-testid="call-trigger">
      <h2>{t.callTriggerTitle}</h2>
      <p class="cx-hint" style="margin:-6px 0 12px">
        {t.callTriggerHint}
      </p>
      <Loading load={data} t={t} onRetry={reload} />
      {data.state === "ready" &&
        (branch ? (
          <>
            <BranchSelect branches={branches} value={branch.id} onChange={setId} testId="ct-branch" />
            <TriggerForm key={branch.id} api={api} branch={branch} templates={data.data.templates} onSaved={reload} />
          </>
        ) : (
          <p class="cx-muted">{t.noBranches}</p>
        ))}
    </section>
  );
}

function TriggerForm({ api, branch, templates, onSaved }: SectionProps & { branch: PublicBranch; templates: Template[]; onSaved: () => void }) {
  const { t } = useI18n();
  const ct = branch.callTrigger;
  const { form, set, status, submit } = useSaveForm(
    () => ({
      on: ct !== undefined,
      template: ct ? templateKey(ct.template, ct.language) : "",
      params: (ct?.params ?? []).join("\n"),
      cooldownHours: String(ct?.cooldownHours ?? 24),
      events: new Set<CallEvent>(ct?.events ?? ["missed"]),
    }),
    async (f) => {
      await api.updateBranch(branch.id, { callTrigger: f.on ? triggerOf(f) : null });
      onSaved();
    },
  );
  const toggleEvent = (ev: CallEvent, on: boolean) => {
    const next = new Set(form.events);
    if (on) next.add(ev);
    else next.delete(ev);
    set("events", next);
  };
  // The saved template may since have lost its approval: keep it choosable so the form shows it.
  const options = ct && !templates.some((x) => templateKey(x.name, x.language) === templateKey(ct.template, ct.language)) ? [{ key: templateKey(ct.template, ct.language), label: `${ct.template} (${ct.language})` }] : [];

  const triggerOf = (f: typeof form) => {
    const tpl = splitTemplateKey(f.template);
    if (!tpl) throw new Error(t.chooseTemplate);
    if (f.events.size === 0) throw new Error(t.ctNoEvents);
    const params = splitList(f.params, /\n/);
    return { template: tpl.name, language: tpl.language, ...(params.length ? { params } : {}), cooldownHours: Number(f.cooldownHours), events: (["incoming", "missed"] as const).filter((x) => f.events.has(x)) };
  };

  return (
    <form onSubmit={submit} data-testid="ct-form">
      <label class="cx-check">
        <input type="checkbox" data-testid="ct-on" checked={form.on} onChange={(e) => set("on", e.currentTarget.checked)} />
        {t.callTriggerOn}
      </label>
      {form.on && (
        <>
          <div class="cx-grid">
            <Field label={t.colTemplate}>
              <select class="cx-input" data-testid="ct-template" value={form.template} onChange={(e) => set("template", e.currentTarget.value)}>
                <option value="">{t.chooseTemplate}</option>
                {options.map((o) => (
                  <option key={o.key} value={o.key}>
                    {o.label}
                  </option>
                ))}
                {templates.map((x) => (
                  <option key={x.id} value={templateKey(x.name, x.language)}>
                    {x.name} ({x.language}, {x.category})
                  </option>
                ))}
              </select>
            </Field>
            <Field label={t.cooldownHours}>
              <input class="cx-input" type="number" min="0.01" max="8760" step="any" required data-testid="ct-cooldown" value={form.cooldownHours} onInput={(e) => set("cooldownHours", e.currentTarget.value)} />
            </Field>
          </div>
          <Field label={t.ctParams} hint={t.ctParamsHint}>
            <textarea class="cx-input" rows={3} data-testid="ct-params" value={form.params} onInput={(e) => set("params", e.currentTarget.value)} />
          </Field>
          <fieldset class="cx-field" style="border:0;padding:0;margin:0">
            <span>{t.ctEvents}</span>
            <div class="cx-checks">
              {(["missed", "incoming"] as const).map((ev) => (
                <label key={ev}>
                  <input type="checkbox" data-testid={`ct-event-${ev}`} checked={form.events.has(ev)} onChange={(e) => toggleEvent(ev, e.currentTarget.checked)} />
                  {ev === "missed" ? t.eventMissed : t.eventIncoming}
                </label>
              ))}
            </div>
          </fieldset>
        </>
      )}
      <SaveRow status={status} prefix="ct" />
    </form>
  );
}
