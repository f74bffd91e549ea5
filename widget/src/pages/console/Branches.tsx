// Branches: health overview, create (key shown once with install steps), rotate keys, enable/disable.
import { useState } from "preact/hooks";
import type { SectionProps } from "./App.js";
import { ApiError } from "./api.js";
import { CallTriggerCard } from "./CallTrigger.js";
import { fill, useI18n, type Strings } from "./strings.js";
import { CRM_KINDS, type BranchForm, type BranchHealth, type CrmKind } from "./types.js";
import { CardHead, Field, Loading, useAction, errorText, formatPercent, formatTime, splitList, useLoad } from "./ui.js";

/** What to show once: a new key and/or secret, with how to use it. */
interface Revealed {
  branch: { name: string; code: string; crm: CrmKind; webhookUrl?: string };
  apiKey?: string;
  webhookSecret?: string;
}

export const connectorName = (t: Strings, crm: CrmKind): string =>
  ({ inbox: t.connectorInbox, amocrm: t.connectorAmocrm, bitrix24: t.connectorBitrix24, webhook: t.connectorWebhook })[crm];

export function Branches({ api }: SectionProps) {
  const { t, lang } = useI18n();
  const [window, setWindow] = useState<"24h" | "7d">("24h");
  const [health, reload] = useLoad(() => api.health(window), [api, window], t);
  const [revealed, setRevealed] = useState<Revealed | null>(null);
  const [created, setCreated] = useState(0);
  const { busy, error: actionError, run: act } = useAction(reload);

  const rotate = (b: BranchHealth) =>
    act(b.id, async () => {
      if (!confirm(t.confirmRotate)) return;
      const r = await api.rotateKey(b.id);
      setRevealed({ branch: b, apiKey: r.apiKey });
    });
  const rotateSecret = (b: BranchHealth) =>
    act(b.id, async () => {
      if (!confirm(t.confirmRotateSecret)) return;
      const r = await api.rotateWebhookSecret(b.id);
      setRevealed({ branch: b, webhookSecret: r.webhookSecret });
    });

  return (
    <>
      {revealed && <OneTimeSecret revealed={revealed} onDone={() => setRevealed(null)} />}
      <section class="cx-card">
        <CardHead title={t.branchesTitle} onRefresh={reload}>
          <label class="cx-row cx-small">
            {t.window}
            <select class="cx-input" style="width:auto" data-testid="health-window" value={window} onChange={(e) => setWindow(e.currentTarget.value as "24h" | "7d")}>
              <option value="24h">{t.window24h}</option>
              <option value="7d">{t.window7d}</option>
            </select>
          </label>
        </CardHead>
        {actionError && (
          <p class="cx-error" role="alert">
            {actionError}
          </p>
        )}
        <Loading load={health} t={t} onRetry={reload} />
        {health.state === "ready" &&
          (health.data.branches.length === 0 ? (
            <p class="cx-muted">{t.noBranches}</p>
          ) : (
            <div class="cx-branches">
              {health.data.branches.map((b) => (
                <article key={b.id} class="cx-branch" data-testid="branch-card" data-code={b.code} data-enabled={String(b.enabled)}>
                  <div class="cx-branch-title">
                    <b>{b.name}</b>
                    <code>{b.code}</code>
                    <span class="cx-badge" data-tone="info">
                      {connectorName(t, b.crm)}
                    </span>
                    <span class="cx-badge" data-tone={b.enabled ? "good" : "warn"}>
                      {b.enabled ? t.enabled : t.disabled}
                    </span>
                    {b.isHq && <span class="cx-badge">{t.hq}</span>}
                  </div>
                  <dl class="cx-dl">
                    <dt>{t.colLastInbound}</dt>
                    <dd data-testid="last-inbound">{formatTime(b.lastInboundAt, lang, t.never)}</dd>
                    <dt>{t.colLastDelivered}</dt>
                    <dd>{formatTime(b.lastDeliveredAt, lang, t.never)}</dd>
                    <dt title={t.errorRateHint}>{t.colErrorRate}</dt>
                    <dd title={t.errorRateHint}>
                      {b.deliveries ? (
                        <>
                          <span class="cx-badge" data-tone={b.deliveries.errorRate ? "bad" : "good"}>
                            {formatPercent(b.deliveries.errorRate, lang)}
                          </span>{" "}
                          <span class="cx-muted cx-small">
                            {b.deliveries.failed}/{b.deliveries.total}
                            {b.deliveries.retrying > 0 ? ` · ${t.retrying}: ${b.deliveries.retrying}` : ""}
                          </span>
                        </>
                      ) : (
                        t.notApplicable
                      )}
                    </dd>
                    {(b.crm === "amocrm" || b.crm === "bitrix24") && (
                      <>
                        <dt>{t.colCrm}</dt>
                        <dd data-testid="crm-state">
                          <CrmState b={b} />
                        </dd>
                      </>
                    )}
                    <dt>{t.colDeadLetters}</dt>
                    <dd>
                      <span class="cx-badge" data-tone={b.deadLetters > 0 ? "bad" : undefined}>
                        {b.deadLetters}
                      </span>
                    </dd>
                    <dt>key</dt>
                    <dd>
                      <code>{b.keyPrefix}…</code>
                    </dd>
                  </dl>
                  <div class="cx-row">
                    <button type="button" class="cx-btn cx-btn-ghost" data-testid="toggle-enabled" disabled={busy === b.id} onClick={() => act(b.id, async () => void (await api.setEnabled(b.id, !b.enabled)))}>
                      {b.enabled ? t.disable : t.enable}
                    </button>
                    <button type="button" class="cx-btn cx-btn-ghost" data-testid="rotate-key" disabled={busy === b.id} onClick={() => rotate(b)}>
                      {t.rotateKey}
                    </button>
                    {b.crm === "webhook" && (
                      <button type="button" class="cx-btn cx-btn-ghost" disabled={busy === b.id} onClick={() => rotateSecret(b)}>
                        {t.rotateSecret}
                      </button>
                    )}
                  </div>
                </article>
              ))}
            </div>
          ))}
      </section>
      <CreateBranch
        api={api}
        onCreated={(r) => {
          setRevealed(r);
          reload();
          setCreated((n) => n + 1);
          scrollTo({ top: 0 });
        }}
      />
      <CallTriggerCard api={api} version={created} />
    </>
  );
}

function CrmState({ b }: { b: BranchHealth }) {
  const { t, lang } = useI18n();
  const c = b.crmConnections[0];
  if (!c) return <span class="cx-badge" data-tone="warn">{t.notConnected}</span>;
  const label = { installing: t.crmInstalling, connected: t.crmConnected, disconnected: t.crmDisconnected }[c.state];
  return (
    <>
      <span class="cx-badge" data-tone={c.state === "connected" && !c.lastError ? "good" : c.state === "connected" ? "warn" : "bad"}>
        {label}
      </span>{" "}
      <span class="cx-small">{c.domain}</span>
      {c.lastError && (
        <div class="cx-small" style="color:#b91c1c">
          {c.lastError.code}: {c.lastError.message} ({formatTime(c.lastError.at, lang, t.never)})
        </div>
      )}
    </>
  );
}

function CreateBranch(props: SectionProps & { onCreated: (r: Revealed) => void }) {
  const { t } = useI18n();
  const empty = { name: "", code: "", crm: "inbox" as CrmKind, webhookUrl: "", keywords: "", city: "", isHq: false };
  const [form, setForm] = useState(empty);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const set = <K extends keyof typeof form>(k: K, v: (typeof form)[K]) => setForm((f) => ({ ...f, [k]: v }));

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: BranchForm = { name: form.name.trim(), code: form.code.trim(), crm: form.crm };
    if (form.crm === "webhook") body.webhookUrl = form.webhookUrl.trim();
    const keywords = splitList(form.keywords);
    if (keywords.length) body.keywords = keywords;
    if (form.city.trim()) body.city = form.city.trim();
    if (form.isHq) body.isHq = true;
    try {
      const r = await props.api.createBranch(body);
      setForm(empty);
      props.onCreated({ branch: { name: r.name, code: r.code, crm: r.crm, webhookUrl: body.webhookUrl }, apiKey: r.apiKey, webhookSecret: r.webhookSecret });
    } catch (err) {
      setError(err instanceof ApiError && err.field ? `${err.message}` : errorText(err, t));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="cx-card" onSubmit={submit} data-testid="create-branch">
      <h2>{t.createTitle}</h2>
      {error && (
        <p class="cx-error" role="alert" data-testid="create-error">
          {error}
        </p>
      )}
      <div class="cx-grid">
        <Field label={t.fieldName}>
          <input class="cx-input" required maxLength={100} data-testid="new-name" value={form.name} onInput={(e) => set("name", e.currentTarget.value)} />
        </Field>
        <Field label={t.fieldCode} hint={t.fieldCodeHint}>
          <input class="cx-input" required data-testid="new-code" value={form.code} onInput={(e) => set("code", e.currentTarget.value)} />
        </Field>
        <Field label={t.fieldCrm}>
          <select class="cx-input" data-testid="new-crm" value={form.crm} onChange={(e) => set("crm", e.currentTarget.value as CrmKind)}>
            {CRM_KINDS.map((k) => (
              <option key={k} value={k}>
                {connectorName(t, k)}
              </option>
            ))}
          </select>
        </Field>
        {form.crm === "webhook" && (
          <Field label={t.fieldWebhookUrl}>
            <input class="cx-input" type="url" required placeholder="https://" data-testid="new-webhook-url" value={form.webhookUrl} onInput={(e) => set("webhookUrl", e.currentTarget.value)} />
          </Field>
        )}
        <Field label={t.fieldKeywords} hint={t.fieldKeywordsHint}>
          <input class="cx-input" data-testid="new-keywords" value={form.keywords} onInput={(e) => set("keywords", e.currentTarget.value)} />
        </Field>
        <Field label={t.fieldCity}>
          <input class="cx-input" data-testid="new-city" value={form.city} onInput={(e) => set("city", e.currentTarget.value)} />
        </Field>
      </div>
      <label class="cx-check">
        <input type="checkbox" data-testid="new-hq" checked={form.isHq} onChange={(e) => set("isHq", e.currentTarget.checked)} />
        {t.fieldIsHq}
      </label>
      <button type="submit" class="cx-btn" data-testid="create-button" disabled={busy || !form.name.trim() || !form.code.trim()}>
        {busy ? t.creating : t.create}
      </button>
    </form>
  );
}

function CopyButton({ value }: { value: string }) {
  const { t } = useI18n();
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="cx-btn cx-btn-ghost"
      onClick={() =>
        void navigator.clipboard?.writeText(value).then(
          () => setDone(true),
          () => setDone(false),
        )
      }
    >
      {done ? t.copied : t.copy}
    </button>
  );
}

/** The key (and webhook secret) as the server returned them: in memory only, gone once dismissed. */
function OneTimeSecret({ revealed, onDone }: { revealed: Revealed; onDone: () => void }) {
  const { t } = useI18n();
  const { branch } = revealed;
  const origin = location.origin;
  const steps: Record<CrmKind, string> = {
    inbox: fill(t.installInbox, { url: `${origin}/inbox` }),
    amocrm: t.installAmocrm,
    bitrix24: t.installBitrix24,
    webhook: fill(t.installWebhook, { url: branch.webhookUrl ?? "webhookUrl", api: `${origin}/api/v1/messages` }),
  };
  return (
    <section class="cx-card cx-secret" data-testid="one-time-secret" role="alert">
      <h2>
        {t.keyOnceTitle}: {branch.name} <code style="display:inline;border:0;padding:0;background:none">{branch.code}</code>
      </h2>
      <p class="cx-muted">{t.keyOnceHint}</p>
      {revealed.apiKey && (
        <>
          <div class="cx-row">
            <b>{t.apiKey}</b>
            <CopyButton value={revealed.apiKey} />
          </div>
          <code data-testid="new-api-key">{revealed.apiKey}</code>
        </>
      )}
      {revealed.webhookSecret && (
        <>
          <div class="cx-row">
            <b>{t.webhookSecret}</b>
            <CopyButton value={revealed.webhookSecret} />
          </div>
          <code data-testid="new-webhook-secret">{revealed.webhookSecret}</code>
        </>
      )}
      <b>
        {t.installTitle} ({connectorName(t, branch.crm)})
      </b>
      <ol>
        <li data-testid="install-steps">{steps[branch.crm]}</li>
      </ol>
      <button type="button" class="cx-btn" data-testid="dismiss-key" onClick={onDone}>
        {t.dismissKey}
      </button>
    </section>
  );
}
