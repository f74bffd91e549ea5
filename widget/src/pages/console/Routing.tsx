// Routing: network settings, each branch's rules, and the "where would this message go?" tester.
import { useEffect, useState } from "preact/hooks";
import type { SectionProps } from "./App.js";
import { fill, ruleName, useI18n } from "./strings.js";
import type { PublicBranch, RoutingSettings, RoutingTestResult } from "./types.js";
import { BranchSelect, Field, Loaded, SaveRow, errorText, formatTime, splitList, useLoad, useSaveForm } from "./ui.js";

const DAY_MS = 86_400_000;

export function Routing({ api }: SectionProps) {
  const { t } = useI18n();
  const [branches, reloadBranches] = useLoad(() => api.branches(), [api], t);
  return (
    <>
      <Tester api={api} branches={branches.state === "ready" ? branches.data : []} />
      <section class="cx-card">
        <h2>{t.rulesTitle}</h2>
        <Loaded load={branches} onRetry={reloadBranches}>
          {(list) => <BranchRules api={api} branches={list} onSaved={reloadBranches} />}
        </Loaded>
      </section>
      <GlobalSettings api={api} />
    </>
  );
}

function GlobalSettings({ api }: SectionProps) {
  const { t } = useI18n();
  const [load, reload] = useLoad(() => api.routingSettings(), [api], t);
  return (
    <section class="cx-card">
      <h2>{t.globalSettings}</h2>
      <Loaded load={load} onRetry={reload}>
        {(settings) => <SettingsForm api={api} settings={settings} />}
      </Loaded>
    </section>
  );
}

function SettingsForm({ api, settings }: SectionProps & { settings: RoutingSettings }) {
  const { t } = useI18n();
  const toForm = (s: RoutingSettings) => ({
    ttlDays: String(Math.round((s.bindingTtlMs / DAY_MS) * 100) / 100),
    menuEnabled: s.menuEnabled,
    menuThreshold: String(s.menuThreshold),
    menuLang: s.menuLang ?? "auto",
    phrases: s.changeBranchPhrases.join("\n"),
  });
  const { form, set, status, submit } = useSaveForm(
    () => toForm(settings),
    async (f) =>
      toForm(
        await api.saveRoutingSettings({
          bindingTtlDays: Number(f.ttlDays),
          menuEnabled: f.menuEnabled,
          menuThreshold: Number(f.menuThreshold),
          menuLang: f.menuLang,
          changeBranchPhrases: splitList(f.phrases, /\n/),
        }),
      ),
  );
  return (
    <form onSubmit={submit} data-testid="routing-settings">
      <div class="cx-grid">
        <Field label={t.bindingTtlDays}>
          <input class="cx-input" type="number" min="0.01" step="any" required value={form.ttlDays} onInput={(e) => set("ttlDays", e.currentTarget.value)} />
        </Field>
        <Field label={t.menuThreshold}>
          <input class="cx-input" type="number" min="1" max="100" required value={form.menuThreshold} onInput={(e) => set("menuThreshold", e.currentTarget.value)} />
        </Field>
        <Field label={t.menuLang}>
          <select class="cx-input" value={form.menuLang} onChange={(e) => set("menuLang", e.currentTarget.value as "ru" | "en" | "auto")}>
            <option value="auto">{t.menuLangAuto}</option>
            <option value="ru">Русский</option>
            <option value="en">English</option>
          </select>
        </Field>
      </div>
      <label class="cx-check">
        <input type="checkbox" checked={form.menuEnabled} onChange={(e) => set("menuEnabled", e.currentTarget.checked)} />
        {t.menuEnabled}
      </label>
      <Field label={t.changePhrases} hint={t.changePhrasesHint}>
        <textarea class="cx-input" rows={4} value={form.phrases} onInput={(e) => set("phrases", e.currentTarget.value)} />
      </Field>
      <SaveRow status={status} prefix="settings" />
    </form>
  );
}

function BranchRules({ api, branches, onSaved }: SectionProps & { branches: PublicBranch[]; onSaved: () => void }) {
  const { t } = useI18n();
  const [id, setId] = useState(branches[0]?.id ?? "");
  const branch = branches.find((b) => b.id === id) ?? branches[0];
  if (!branch) return <p class="cx-muted">{t.noBranches}</p>;
  return (
    <>
      <BranchSelect branches={branches} value={branch.id} onChange={setId} testId="rules-branch" />
      <RulesForm key={`${branch.id}:${branch.updatedAt}`} api={api} branch={branch} onSaved={onSaved} />
    </>
  );
}

function RulesForm({ api, branch, onSaved }: SectionProps & { branch: PublicBranch; onSaved: () => void }) {
  const { t } = useI18n();
  const { form, set, status, submit } = useSaveForm(
    () => ({
      code: branch.code,
      keywords: branch.keywords.join(", "),
      adSourceIds: branch.adSourceIds.join(", "),
      city: branch.city ?? "",
      menuTitle: branch.menuTitle ?? "",
      menuOrder: branch.menuOrder === undefined ? "" : String(branch.menuOrder),
      isHq: branch.isHq,
    }),
    async (f) => {
      await api.updateBranch(branch.id, {
        code: f.code.trim(),
        keywords: splitList(f.keywords),
        adSourceIds: splitList(f.adSourceIds),
        // Empty clears the field (the API takes null for "unset").
        city: f.city.trim() || null,
        menuTitle: f.menuTitle.trim() || null,
        menuOrder: f.menuOrder.trim() === "" ? null : Number(f.menuOrder),
        isHq: f.isHq,
      });
      onSaved();
    },
  );
  return (
    <form onSubmit={submit} data-testid="rules-form">
      <div class="cx-grid">
        <Field label={t.fieldCode} hint={t.fieldCodeHint}>
          <input class="cx-input" required value={form.code} onInput={(e) => set("code", e.currentTarget.value)} />
        </Field>
        <Field label={t.fieldKeywords} hint={t.fieldKeywordsHint}>
          <input class="cx-input" data-testid="rules-keywords" value={form.keywords} onInput={(e) => set("keywords", e.currentTarget.value)} />
        </Field>
        <Field label={t.fieldAdSourceIds} hint={t.fieldAdSourceIdsHint}>
          <input class="cx-input" inputMode="numeric" value={form.adSourceIds} onInput={(e) => set("adSourceIds", e.currentTarget.value)} />
        </Field>
        <Field label={t.fieldCity}>
          <input class="cx-input" value={form.city} onInput={(e) => set("city", e.currentTarget.value)} />
        </Field>
        <Field label={t.fieldMenuTitle}>
          <input class="cx-input" maxLength={24} value={form.menuTitle} onInput={(e) => set("menuTitle", e.currentTarget.value)} />
        </Field>
        <Field label={t.fieldMenuOrder}>
          <input class="cx-input" type="number" min="0" max="10000" value={form.menuOrder} onInput={(e) => set("menuOrder", e.currentTarget.value)} />
        </Field>
      </div>
      <label class="cx-check">
        <input type="checkbox" checked={form.isHq} onChange={(e) => set("isHq", e.currentTarget.checked)} />
        {t.fieldIsHq}
      </label>
      <SaveRow status={status} prefix="rules" />
    </form>
  );
}

function Tester({ api, branches }: SectionProps & { branches: PublicBranch[] }) {
  const { t, lang } = useI18n();
  const [form, setForm] = useState({ from: "", text: "", referralSourceId: "", contextWamid: "", interactiveReplyId: "" });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<RoutingTestResult | null>(null);
  const set = (k: keyof typeof form, v: string) => setForm((f) => ({ ...f, [k]: v }));
  useEffect(() => setError(null), [form]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const input = Object.fromEntries(Object.entries(form).filter(([, v]) => v.trim() !== "")) as typeof form;
      setResult(await api.testRouting(input));
    } catch (err) {
      setResult(null);
      setError(errorText(err, t));
    } finally {
      setBusy(false);
    }
  };

  const d = result?.decision;
  const boundTo = result?.binding ? (branches.find((b) => b.id === result.binding!.branchId)?.name ?? result.binding.branchId) : null;
  return (
    <section class="cx-card">
      <h2>{t.testerTitle}</h2>
      <p class="cx-hint" style="margin:-6px 0 12px">
        {t.testerHint}
      </p>
      <form onSubmit={submit} data-testid="routing-tester">
        {error && (
          <p class="cx-error" role="alert" data-testid="tester-error">
            {error}
          </p>
        )}
        <div class="cx-grid">
          <Field label={t.testFrom}>
            <input class="cx-input" type="tel" required placeholder="+7 916 123-45-67" data-testid="test-from" value={form.from} onInput={(e) => set("from", e.currentTarget.value)} />
          </Field>
          <Field label={t.testText}>
            <input class="cx-input" data-testid="test-text" value={form.text} onInput={(e) => set("text", e.currentTarget.value)} />
          </Field>
          <Field label={t.testReferral}>
            <input class="cx-input" inputMode="numeric" value={form.referralSourceId} onInput={(e) => set("referralSourceId", e.currentTarget.value)} />
          </Field>
          <Field label={t.testContext}>
            <input class="cx-input" value={form.contextWamid} onInput={(e) => set("contextWamid", e.currentTarget.value)} />
          </Field>
          <Field label={t.testReply}>
            <input class="cx-input" placeholder="branch:…" value={form.interactiveReplyId} onInput={(e) => set("interactiveReplyId", e.currentTarget.value)} />
          </Field>
        </div>
        <button type="submit" class="cx-btn" data-testid="run-test" disabled={busy || !form.from.trim()}>
          {busy ? t.testing : t.runTest}
        </button>
      </form>
      {d && result && (
        <div class="cx-decision" data-kind={d.kind} data-testid="decision" data-rule={d.rule ?? ""} data-branch={d.branchId ?? ""}>
          <dl class="cx-dl">
            <dt>{t.decisionRule}</dt>
            <dd data-testid="decision-rule">{d.rule ? ruleName(t, d.rule) : t.none}</dd>
            <dt>{t.decisionBranch}</dt>
            <dd data-testid="decision-branch">{d.kind === "route" ? d.branchName : d.kind === "ask" ? t.decisionMenu : t.decisionUnroutable}</dd>
            <dt>{t.decisionReason}</dt>
            <dd data-testid="decision-reason">{d.describe[lang]}</dd>
          </dl>
          {d.kind === "ask" && d.menu && (
            <ul class="cx-small" style="margin:6px 0 0">
              {d.menu.sections.flatMap((s) => s.rows).map((r) => (
                <li key={r.id}>
                  {r.title} <code class="cx-muted">{r.id}</code>
                </li>
              ))}
            </ul>
          )}
          <p class="cx-hint">
            {result.binding ? fill(t.customerBound, { branch: boundTo ?? "", date: formatTime(result.binding.boundAt, lang, t.never) }) : t.customerUnknown}
            {result.crmOwnersChecked ? ` ${t.crmOwnersChecked}` : ""}
          </p>
        </div>
      )}
    </section>
  );
}
