// Campaigns: the list, a new campaign (CSV → preview with the import report → start), and one
// campaign's live view (progress from the SSE stream, pause/resume/cancel, recipients paged).
import { useEffect, useMemo, useState } from "preact/hooks";
import { statusLabel } from "../shared/format.js";
import { openEventStream, type StreamState } from "../shared/sse.js";
import type { SectionProps } from "./App.js";
import { ApiError } from "./api.js";
import { campaignActions, campaignInput, progressBar, stateTone, templateKey, type CampaignForm } from "./campaign-form.js";
import { fill, labelOf, useI18n, type Strings } from "./strings.js";
import type { Campaign, CampaignProgress, CampaignState, ImportReport, PublicBranch, RecipientsPage, Template } from "./types.js";
import { CardHead, Field, Loaded, Loading, StackTable, errorText, formatNumber, formatTime, useLoad } from "./ui.js";

const PAGE = 20;
const BAD_ROWS_SHOWN = 50;

export function Campaigns({ api }: SectionProps) {
  const { t } = useI18n();
  const [openId, setOpenId] = useState<string | null>(null);
  const [list, reload] = useLoad(() => api.campaigns(), [api], t);
  if (openId) return <CampaignView api={api} id={openId} onBack={() => (setOpenId(null), reload())} />;
  return (
    <>
      <section class="cx-card">
        <CardHead title={t.campaignsTitle} onRefresh={reload} />
        <Loaded load={list} onRetry={reload} isEmpty={(d) => d.campaigns.length === 0} emptyText={t.noCampaigns}>
          {(data) => (
            <StackTable columns={[t.colName, t.colTemplate, t.colState, t.colProgress, ""]}>
              {data.campaigns.map((c) => (
                <tr key={c.id} data-testid="campaign-row" data-id={c.id}>
                  <td data-label={t.colName} class="cx-wrap">
                    <b>{c.name}</b>
                  </td>
                  <td data-label={t.colTemplate} class="cx-wrap">
                    {c.template.name} ({c.template.language})
                  </td>
                  <td data-label={t.colState}>
                    <StateBadge state={c.state} />
                  </td>
                  <td data-label={t.colProgress} style="min-width:140px">
                    <Bar progress={c.progress} small />
                    <span class="cx-small cx-muted">{fill(t.processed, { done: progressBar(c.progress).done, total: c.progress.total })}</span>
                  </td>
                  <td>
                    <button type="button" class="cx-btn cx-btn-ghost" data-testid="open-campaign" onClick={() => setOpenId(c.id)}>
                      {t.open}
                    </button>
                  </td>
                </tr>
              ))}
            </StackTable>
          )}
        </Loaded>
      </section>
      <NewCampaign api={api} onStarted={(id) => setOpenId(id)} />
    </>
  );
}

function StateBadge({ state }: { state: CampaignState }) {
  const { t } = useI18n();
  return (
    <span class="cx-badge" data-tone={stateTone(state)} data-testid="campaign-state" data-state={state}>
      {labelOf(t.campaignStates, state)}
    </span>
  );
}

/** The stacked progress bar; each part carries its count and width for a reader (and a test). */
function Bar({ progress, small }: { progress: CampaignProgress; small?: boolean }) {
  const { t } = useI18n();
  const bar = progressBar(progress);
  const names: Record<string, string> = { read: t.c_read, delivered: t.c_delivered, sent: t.c_sent, failed: t.c_failed, skipped: t.c_skipped };
  return (
    <div
      class={small ? "cx-bar cx-bar-sm" : "cx-bar"}
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={bar.total}
      aria-valuenow={bar.done}
      aria-label={fill(t.processed, { done: bar.done, total: bar.total })}
      data-testid="progress-bar"
      data-done={bar.done}
      data-total={bar.total}
    >
      {bar.parts.map((p) => (
        <i key={p.part} data-part={p.part} data-count={p.count} style={`width:${p.percent}%`} title={`${names[p.part]}: ${p.count}`} />
      ))}
    </div>
  );
}

const localTimeZone = (): string => {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone ?? "";
  } catch {
    return "";
  }
};

function NewCampaign(props: SectionProps & { onStarted: (id: string) => void }) {
  const { api } = props;
  const { t } = useI18n();
  const [data, reloadData] = useLoad(async () => {
    const [templates, branches] = await Promise.all([api.templates(), api.branches()]);
    return { templates: templates.templates.filter((x) => x.status === "APPROVED"), branches };
  }, [api], t);
  const empty: CampaignForm = { name: "", template: "", branchIds: [], csv: "", startAt: "", quietFrom: "", quietTo: "", timezone: localTimeZone() };
  const [form, setForm] = useState<CampaignForm>(empty);
  const [fileNote, setFileNote] = useState<string | null>(null);
  const [report, setReport] = useState<ImportReport | null>(null);
  const [busy, setBusy] = useState<"preview" | "start" | null>(null);
  const [error, setError] = useState<string | null>(null);
  const set = <K extends keyof CampaignForm>(k: K, v: CampaignForm[K]) => {
    setForm((f) => ({ ...f, [k]: v }));
    // What was previewed is no longer what would be started.
    setReport(null);
    setError(null);
  };
  const toggleBranch = (id: string, on: boolean) => set("branchIds", on ? [...form.branchIds.filter((b) => b !== id), id] : form.branchIds.filter((b) => b !== id));

  const readFile = async (file: File | undefined) => {
    if (!file) return;
    const text = await file.text();
    set("csv", text.replace(/^\uFEFF/, ""));
    setFileNote(fill(t.csvFileLoaded, { name: file.name, n: text.split(/\r\n|\r|\n/).filter((l) => l.trim()).length }));
  };

  const run = async (what: "preview" | "start") => {
    const built = campaignInput(form);
    if (!built.ok) return setError(t[built.problem]);
    setBusy(what);
    setError(null);
    try {
      if (what === "preview") setReport(await api.previewCampaign(built.input));
      else {
        const created = await api.createCampaign(built.input);
        setForm(empty);
        setReport(null);
        setFileNote(null);
        props.onStarted(created.id);
      }
    } catch (err) {
      // The server may refuse with the numbers (messaging_limit) or the skipped rows (no_recipients).
      if (err instanceof ApiError && err.code === "messaging_limit" && report) setReport({ ...report, messagingLimit: err.details as ImportReport["messagingLimit"] });
      setError(errorText(err, t));
    } finally {
      setBusy(null);
    }
  };

  return (
    <form class="cx-card" data-testid="new-campaign" onSubmit={(e) => (e.preventDefault(), void run("preview"))}>
      <h2>{t.newCampaign}</h2>
      <Loading load={data} t={t} onRetry={reloadData} />
      {data.state === "ready" && (
        <>
          <div class="cx-grid">
            <Field label={t.campaignName}>
              <input class="cx-input" maxLength={200} data-testid="campaign-name" value={form.name} onInput={(e) => set("name", e.currentTarget.value)} />
            </Field>
            <Field label={t.colTemplate} hint={data.data.templates.length ? undefined : t.noApprovedTemplates}>
              <select class="cx-input" data-testid="campaign-template" value={form.template} onChange={(e) => set("template", e.currentTarget.value)}>
                <option value="">{t.chooseTemplate}</option>
                {data.data.templates.map((x) => (
                  <option key={x.id} value={templateKey(x.name, x.language)}>
                    {x.name} ({x.language}, {x.category})
                  </option>
                ))}
              </select>
            </Field>
          </div>
          <TemplateParams templates={data.data.templates} chosen={form.template} />
          <fieldset class="cx-field" style="border:0;padding:0;margin:0 0 4px">
            <span>{t.campaignBranches}</span>
            <div class="cx-checks" data-testid="campaign-branches">
              {data.data.branches.map((b: PublicBranch) => (
                <label key={b.id}>
                  <input type="checkbox" value={b.id} data-code={b.code} checked={form.branchIds.includes(b.id)} disabled={!b.enabled} onChange={(e) => toggleBranch(b.id, e.currentTarget.checked)} />
                  {b.name} <code class="cx-muted">{b.code}</code>
                </label>
              ))}
            </div>
            {form.branchIds.length > 1 && <p class="cx-hint">{t.campaignBranchesHint}</p>}
          </fieldset>
          <Field label={t.recipientsCsv} hint={t.csvHint}>
            <textarea class="cx-input cx-code" style="min-height:120px" rows={6} spellcheck={false} placeholder={"phone,1\n+79161234567,Anna"} data-testid="campaign-csv" value={form.csv} onInput={(e) => set("csv", e.currentTarget.value)} />
          </Field>
          <label class="cx-field">
            <span>{t.csvFile}</span>
            <input type="file" accept=".csv,text/csv,text/plain" data-testid="campaign-csv-file" onChange={(e) => void readFile(e.currentTarget.files?.[0])} />
            {fileNote && <p class="cx-hint">{fileNote}</p>}
          </label>
          <div class="cx-grid">
            <Field label={t.startAt} hint={t.startAtHint}>
              <input class="cx-input" type="datetime-local" data-testid="campaign-start-at" value={form.startAt} onInput={(e) => set("startAt", e.currentTarget.value)} />
            </Field>
            <Field label={`${t.quietHours}: ${t.quietFrom}`}>
              <input class="cx-input" type="time" data-testid="quiet-from" value={form.quietFrom} onInput={(e) => set("quietFrom", e.currentTarget.value)} />
            </Field>
            <Field label={`${t.quietHours}: ${t.quietTo}`}>
              <input class="cx-input" type="time" data-testid="quiet-to" value={form.quietTo} onInput={(e) => set("quietTo", e.currentTarget.value)} />
            </Field>
            <Field label={t.timezone} hint={t.quietHint}>
              <input class="cx-input" placeholder="Europe/Moscow" data-testid="quiet-timezone" value={form.timezone} onInput={(e) => set("timezone", e.currentTarget.value)} />
            </Field>
          </div>
          {error && (
            <p class="cx-error" role="alert" data-testid="campaign-error">
              {error}
            </p>
          )}
          {report && <ImportReportView report={report} />}
          <div class="cx-row">
            <button type="submit" class="cx-btn cx-btn-ghost" data-testid="campaign-preview" disabled={busy !== null}>
              {busy === "preview" ? t.previewing : t.preview}
            </button>
            <button type="button" class="cx-btn" data-testid="campaign-start" disabled={busy !== null || !report || !report.messagingLimit.ok || report.recipients === 0} onClick={() => void run("start")}>
              {busy === "start" ? t.starting : t.startCampaign}
            </button>
            {!report && <span class="cx-hint">{t.previewFirst}</span>}
          </div>
        </>
      )}
    </form>
  );
}

function TemplateParams({ templates, chosen }: { templates: Template[]; chosen: string }) {
  const { t } = useI18n();
  const tpl = templates.find((x) => templateKey(x.name, x.language) === chosen);
  if (!tpl?.description?.body) return null;
  const params = [...(tpl.description.header?.params ?? []), ...tpl.description.body.params];
  return (
    <p class="cx-hint" style="margin:-6px 0 12px">
      {tpl.description.body.text}
      {params.length > 0 && ` — ${t.colParams}: ${params.map((p) => `{{${p}}}`).join(" ")}`}
    </p>
  );
}

function ImportReportView({ report }: { report: ImportReport }) {
  const { t, lang } = useI18n();
  const skipped = Object.entries(report.skipped).filter(([, n]) => n > 0);
  const skippedTotal = skipped.reduce((a, [, n]) => a + n, 0);
  const limit = report.messagingLimit;
  const num = (n: number | null) => (n === null ? t.limitUnlimited : formatNumber(n, lang));
  return (
    <div class="cx-report" data-testid="import-report">
      <h3>{t.importReport}</h3>
      <div class="cx-counts">
        <Count label={t.rowsTotal} value={report.total} id="report-total" />
        <Count label={t.rowsGood} value={report.recipients} id="report-good" />
        <Count label={t.rowsSkipped} value={skippedTotal} id="report-skipped" />
      </div>
      {skipped.length > 0 && (
        <>
          <h3>{t.skippedByReason}</h3>
          <ul class="cx-notes" data-testid="report-reasons">
            {skipped.map(([code, n]) => (
              <li key={code} data-code={code}>
                {labelOf(t.skipReasons, code)}: <b>{n}</b>
              </li>
            ))}
          </ul>
        </>
      )}
      {report.errors.length > 0 && (
        <>
          <h3>{t.badRows}</h3>
          <StackTable testId="report-errors" columns={[{ label: t.colLine, num: true }, t.colReason]}>
            {report.errors.slice(0, BAD_ROWS_SHOWN).map((e, i) => (
              <tr key={i} data-testid="report-error" data-line={e.line ?? e.index ?? ""} data-code={e.code}>
                <td data-label={t.colLine} class="cx-num">
                  {e.line ?? (e.index !== undefined ? `#${e.index}` : t.none)}
                </td>
                <td data-label={t.colReason} class="cx-wrap">
                  <b>{labelOf(t.skipReasons, e.code)}</b> — {e.reason}
                </td>
              </tr>
            ))}
          </StackTable>
          {report.errors.length > BAD_ROWS_SHOWN && <p class="cx-hint">{fill(t.moreBadRows, { n: report.errors.length - BAD_ROWS_SHOWN })}</p>}
        </>
      )}
      <h3>
        {t.limitTitle}{" "}
        <span class="cx-badge" data-tone={limit.ok ? "good" : "bad"} data-testid="limit-state" data-ok={String(limit.ok)}>
          {limit.ok ? t.limitOk : t.limitOver}
        </span>
      </h3>
      <dl class="cx-dl" data-testid="report-limit">
        <dt>{t.limitValue}</dt>
        <dd>{num(limit.limit)}</dd>
        <dt>{t.limitUsed}</dt>
        <dd>{num(limit.usedLast24h)}</dd>
        <dt>{t.limitReserved}</dt>
        <dd>{num(limit.reservedByCampaigns)}</dd>
        <dt>{t.limitAvailable}</dt>
        <dd>{num(limit.available)}</dd>
        <dt>{t.limitNeeded}</dt>
        <dd>{num(limit.recipients)}</dd>
      </dl>
      {!limit.ok && (
        <p class="cx-error" style="margin-top:8px">
          {fill(t.limitRefused, { needed: limit.recipients, available: limit.available ?? 0 })}
        </p>
      )}
    </div>
  );
}

function Count({ label, value, id }: { label: string; value: number; id: string }) {
  return (
    <div class="cx-count" data-testid={id} data-value={value}>
      <b>{value}</b>
      <span>{label}</span>
    </div>
  );
}

const COUNTS: (keyof CampaignProgress & `${string}`)[] = ["total", "sent", "delivered", "read", "replied", "failed", "skipped", "pending", "queued"];

function CampaignView(props: SectionProps & { id: string; onBack: () => void }) {
  const { api, id } = props;
  const { t, lang } = useI18n();
  const [first, reloadFirst] = useLoad(() => api.campaign(id), [api, id], t);
  const [live, setLive] = useState<Campaign | null>(null);
  const [stream, setStream] = useState<StreamState>("connecting");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // Progress arrives as `event: progress` frames; EventSource cannot send the Bearer header.
  useEffect(() => {
    const handle = openEventStream({
      url: api.campaignStreamUrl(id),
      headers: () => api.http.authHeaders(),
      onEvent: (ev) => {
        if (ev.event !== "progress") return;
        try {
          setLive(JSON.parse(ev.data) as Campaign);
        } catch {
          /* a torn frame: the next one carries the whole state again */
        }
      },
      onStateChange: setStream,
      onUnauthorized: () => void api.campaign(id).catch(() => undefined),
    });
    return () => handle.close();
  }, [api, id]);

  const c = live ?? (first.state === "ready" ? first.data : null);
  const act = async (action: "pause" | "resume" | "cancel") => {
    if (action === "cancel" && !confirm(t.confirmCancelCampaign)) return;
    setBusy(true);
    setError(null);
    try {
      setLive(await api.campaignAction(id, action));
    } catch (err) {
      setError(errorText(err, t));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <section class="cx-card" data-testid="campaign-view" data-id={id}>
        <div class="cx-head">
          <button type="button" class="cx-btn cx-btn-ghost" data-testid="campaign-back" onClick={props.onBack}>
            ← {t.back}
          </button>
          <h2 class="cx-wrap">{c?.name ?? ""}</h2>
          <span class="cx-live" data-state={stream === "open" ? "open" : "connecting"}>
            {stream === "open" ? t.live : t.reconnecting}
          </span>
        </div>
        <Loading load={first} t={t} onRetry={reloadFirst} />
        {c && (
          <>
            <div class="cx-row" style="margin-bottom:10px">
              <StateBadge state={c.state} />
              <span class="cx-muted cx-small">
                {c.template.name} ({c.template.language}, {c.template.category})
              </span>
              {c.nextRunAt !== null && (
                <span class="cx-small">
                  {t.nextRunAt}: {formatTime(c.nextRunAt, lang, t.never)}
                </span>
              )}
            </div>
            <Bar progress={c.progress} />
            <p class="cx-small" data-testid="processed" style="margin:6px 0 0">
              {fill(t.processed, { done: progressBar(c.progress).done, total: c.progress.total })}
            </p>
            <div class="cx-counts" data-testid="campaign-counts">
              {COUNTS.map((k) => (
                <Count key={k} label={t[`c_${k}` as keyof Strings]} value={c.progress[k] as number} id={`count-${k}`} />
              ))}
            </div>
            {c.lastError && (
              <p class="cx-error">
                {c.lastError.code}: {c.lastError.message} ({formatTime(c.lastError.at, lang, t.never)})
              </p>
            )}
            {error && (
              <p class="cx-error" role="alert">
                {error}
              </p>
            )}
            <Controls state={c.state} busy={busy} onAct={act} />
            {c.importErrors && c.importErrors.length > 0 && (
              <details style="margin-top:12px">
                <summary>
                  {t.badRows} ({c.importErrors.length})
                </summary>
                <ul class="cx-notes">
                  {c.importErrors.slice(0, BAD_ROWS_SHOWN).map((e, i) => (
                    <li key={i}>
                      {e.line ?? (e.index !== undefined ? `#${e.index}` : "")} · {labelOf(t.skipReasons, e.code)} — {e.reason}
                    </li>
                  ))}
                </ul>
              </details>
            )}
          </>
        )}
      </section>
      {c && <Recipients api={api} id={id} version={JSON.stringify(c.progress)} />}
    </>
  );
}

function Controls({ state, busy, onAct }: { state: CampaignState; busy: boolean; onAct: (a: "pause" | "resume" | "cancel") => void }) {
  const { t } = useI18n();
  const allowed = campaignActions(state);
  return (
    <div class="cx-row">
      {allowed.pause && (
        <button type="button" class="cx-btn cx-btn-ghost" data-testid="campaign-pause" disabled={busy} onClick={() => onAct("pause")}>
          {t.pause}
        </button>
      )}
      {allowed.resume && (
        <button type="button" class="cx-btn" data-testid="campaign-resume" disabled={busy} onClick={() => onAct("resume")}>
          {t.resume}
        </button>
      )}
      {allowed.cancel && (
        <button type="button" class="cx-btn cx-btn-ghost cx-btn-danger" data-testid="campaign-cancel" disabled={busy} onClick={() => onAct("cancel")}>
          {t.cancelCampaign}
        </button>
      )}
    </div>
  );
}

/** One page of recipients; reloaded whenever the campaign's progress changes (`version`). */
function Recipients({ api, id, version }: SectionProps & { id: string; version: string }) {
  const { t, lang } = useI18n();
  const [offset, setOffset] = useState(0);
  const [branches] = useLoad(() => api.branches(), [api], t);
  const [page, reload] = useLoad<RecipientsPage>(() => api.recipients(id, offset, PAGE), [api, id, offset, version], t);
  const names = useMemo(() => new Map(branches.state === "ready" ? branches.data.map((b) => [b.id, b.code]) : []), [branches]);
  return (
    <section class="cx-card">
      <h2>{t.recipientsTitle}</h2>
      <Loaded load={page} onRetry={reload}>
        {(data) => (
          <>
            <StackTable testId="recipients" columns={[{ label: "#", num: true }, t.colPhone, t.colBranch, t.colState, t.colDelivery]}>
              {data.items.map((r, i) => (
                <tr key={`${offset + i}`} data-testid="recipient-row" data-phone={r.phone} data-status={r.status ?? ""}>
                  <td data-label="#" class="cx-num">
                    {r.line ?? (r.index !== null ? `#${r.index}` : offset + i + 1)}
                  </td>
                  <td data-label={t.colPhone}>{r.phone}</td>
                  <td data-label={t.colBranch}>{names.get(r.branchId) ?? r.branchId}</td>
                  <td data-label={t.colState}>
                    {labelOf(t.rStates, r.state)}
                    {r.skipReason && <span class="cx-muted"> · {labelOf(t.skipReasons, r.skipReason)}</span>}
                  </td>
                  <td data-label={t.colDelivery} class="cx-wrap">
                    {r.status ? <span class="cx-badge" data-tone={r.status === "failed" ? "bad" : r.status === "read" || r.status === "delivered" ? "good" : undefined}>{statusLabel(r.status, t)}</span> : t.none}
                    {r.error && <div class="cx-small" style="color:#b91c1c">{r.error.message}</div>}
                  </td>
                </tr>
              ))}
            </StackTable>
            <div class="cx-row" style="margin-top:8px">
              <button type="button" class="cx-btn cx-btn-ghost" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
                {t.prev}
              </button>
              <span class="cx-small" data-testid="recipients-page">
                {fill(t.pageOf, { from: data.total === 0 ? 0 : offset + 1, to: Math.min(data.total, offset + PAGE), total: formatNumber(data.total, lang) })}
              </span>
              <button type="button" class="cx-btn cx-btn-ghost" disabled={offset + PAGE >= data.total} onClick={() => setOffset(offset + PAGE)}>
                {t.next}
              </button>
            </div>
          </>
        )}
      </Loaded>
    </section>
  );
}
