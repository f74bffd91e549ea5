// The lead-card panel: branch and routing reason, the 24-hour window countdown, the template
// sender, transfer to another branch and the latest message statuses. Host-agnostic: the host
// passes `api` (authenticated requests) and `strings`.
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { clockOffset, windowView } from "./countdown.js";
import { formatAt, formatPhone, statusLabel, statusTick } from "../pages/shared/format.js";
import { fill, type PanelStrings } from "./strings.js";
import { findTemplate, initialValues, missingParams, paramsPayload, renderPreview, templateKey } from "./template.js";
import {
  PanelApiError,
  type BoundContext,
  type PanelApi,
  type PanelContext,
  type PanelStatus,
  type PanelTemplate,
  type SendResponse,
  type TransferResponse,
} from "./types.js";
import { PANEL_ROOT_CLASS } from "./styles.js";

export interface LeadPanelProps {
  api: PanelApi;
  strings: PanelStrings;
  leadId: number;
  /** "ru" | "en": date and time formats. */
  lang: string;
}

const MAX_STATUSES = 10;

export function errorText(err: unknown, fallback: string): string {
  if (err instanceof PanelApiError && err.message) return err.message;
  if (err instanceof Error && err.message) return `${fallback}: ${err.message}`;
  return fallback;
}

interface Loaded {
  ctx: PanelContext;
  /** Server clock minus local clock when the context arrived. */
  offset: number;
}

export function LeadPanel(props: LeadPanelProps) {
  const { api, strings: t, leadId } = props;
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const alive = useRef(true);
  useEffect(
    () => () => {
      alive.current = false;
    },
    [],
  );

  const load = useCallback(async () => {
    setLoading(true);
    try {
      const ctx = await api.request<PanelContext>("GET", "context", { query: { lead_id: leadId } });
      if (!alive.current) return;
      setLoaded({ ctx, offset: clockOffset(ctx.bound ? ctx.now : undefined, Date.now()) });
      setError(null);
    } catch (err) {
      if (alive.current) setError(errorText(err, t.loadFailed));
    } finally {
      if (alive.current) setLoading(false);
    }
  }, [api, leadId, t]);

  useEffect(() => {
    void load();
  }, [load]);

  let content;
  if (!loaded) {
    content = error ? (
      <div class="blw-section">
        <div class="blw-error" role="alert" data-testid="load-error">
          {error}
        </div>
        <button type="button" class="blw-btn blw-btn-ghost" onClick={() => void load()}>
          {t.retry}
        </button>
      </div>
    ) : (
      <div class="blw-section blw-muted">{t.loading}</div>
    );
  } else if (!loaded.ctx.bound) {
    content = (
      <div class="blw-section blw-muted" data-testid="not-bound">
        {t.notBound}
      </div>
    );
  } else {
    content = (
      <Bound
        ctx={loaded.ctx}
        offset={loaded.offset}
        props={props}
        loading={loading}
        error={error}
        reload={load}
      />
    );
  }
  return (
    <div class={`${PANEL_ROOT_CLASS}__panel`} data-testid="branchline-panel" aria-busy={loading}>
      {content}
    </div>
  );
}

function Bound(p: { ctx: BoundContext; offset: number; props: LeadPanelProps; loading: boolean; error: string | null; reload: () => Promise<void> }) {
  const { ctx } = p;
  const t = p.props.strings;
  const reason = ctx.dialog?.routing?.reason;
  const phone = formatPhone(ctx.contact?.phone);
  return (
    <>
      <div class="blw-section">
        <div class="blw-row">
          <span class="blw-label">{t.branch}</span>
          <button type="button" class="blw-btn blw-btn-link blw-small" disabled={p.loading} onClick={() => void p.reload()} data-testid="refresh">
            {p.loading ? t.loading : t.refresh}
          </button>
        </div>
        <div class="blw-branch" data-testid="branch-name">
          {ctx.branch.name}
          <span class="blw-code">{ctx.branch.code}</span>
        </div>
        {ctx.dialog ? (
          reason && (
            <div class="blw-reason" data-testid="routing-reason" title={ctx.dialog.routing?.rule}>
              {t.routedHere} {reason}
            </div>
          )
        ) : (
          <div class="blw-reason blw-muted" data-testid="no-dialog">
            {t.noDialog}
          </div>
        )}
        {p.error && (
          <div class="blw-error" role="alert" data-testid="load-error">
            {p.error}
          </div>
        )}
      </div>
      <div class="blw-section">
        <span class="blw-label">{t.client}</span>
        {ctx.contact ? (
          <div data-testid="contact">
            {ctx.contact.name && <b>{ctx.contact.name}</b>} {phone && <span class="blw-muted">{phone}</span>}
          </div>
        ) : null}
        {!phone && <div class="blw-muted blw-small">{t.noPhone}</div>}
      </div>
      <div class="blw-section">
        <span class="blw-label">{t.window}</span>
        <Countdown ctx={ctx} offset={p.offset} t={t} />
      </div>
      <TemplateSender ctx={ctx} props={p.props} reload={p.reload} canSend={Boolean(phone)} />
      {ctx.dialog && (ctx.branches?.length ?? 0) > 0 && <Transfer ctx={ctx} props={p.props} reload={p.reload} />}
      <Statuses list={ctx.statuses ?? []} offset={p.offset} props={p.props} />
    </>
  );
}

function Countdown(p: { ctx: BoundContext; offset: number; t: PanelStrings }) {
  const [localNow, setLocalNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setLocalNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const view = windowView(p.ctx.window, localNow + p.offset);
  if (!view.open) {
    return (
      <span class="blw-window" data-state="closed" data-testid="window-countdown">
        {p.t.windowClosed}
      </span>
    );
  }
  return (
    <div>
      <span class="blw-muted">{p.t.windowOpen} </span>
      <span class="blw-window" data-state="open" data-testid="window-countdown">
        {view.text}
      </span>
    </div>
  );
}

function TemplateSender(p: { ctx: BoundContext; props: LeadPanelProps; reload: () => Promise<void>; canSend: boolean }) {
  const t = p.props.strings;
  const templates = p.ctx.templates ?? [];
  const [key, setKey] = useState<string>(() => (templates.length === 1 ? templateKey(templates[0]!) : ""));
  const template = findTemplate(templates, key);
  const [values, setValues] = useState<Record<string, string>>(() => (template ? initialValues(template) : {}));
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string; id?: string } | null>(null);

  const choose = (next: string) => {
    setKey(next);
    const tpl = findTemplate(templates, next);
    setValues(tpl ? initialValues(tpl) : {});
    setResult(null);
  };
  const preview = useMemo(() => (template ? renderPreview(template, values) : null), [template, values]);
  const missing = template ? missingParams(template, values) : [];

  const send = async (e: Event) => {
    e.preventDefault();
    if (!template || busy) return;
    if (missing.length) {
      setResult({ ok: false, text: t.missingParams });
      return;
    }
    setBusy(true);
    setResult(null);
    try {
      const r = await p.props.api.request<SendResponse>("POST", "send", {
        body: { lead_id: p.props.leadId, template: { name: template.name, language: template.language, params: paramsPayload(template, values) } },
      });
      setResult({ ok: true, text: t.sent, id: r?.id });
      void p.reload();
    } catch (err) {
      setResult({ ok: false, text: errorText(err, t.sendFailed) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="blw-section" onSubmit={send} data-testid="template-form">
      <label class="blw-label" for={`blw-template-${p.props.leadId}`}>
        {t.template}
      </label>
      {templates.length === 0 ? (
        <div class="blw-muted blw-small">{t.noTemplates}</div>
      ) : (
        <select
          id={`blw-template-${p.props.leadId}`}
          class="blw-select"
          data-testid="template-select"
          value={key}
          onChange={(e) => choose(e.currentTarget.value)}
        >
          <option value="">{t.chooseTemplate}</option>
          {templates.map((tpl) => (
            <option key={templateKey(tpl)} value={templateKey(tpl)}>
              {tpl.name} ({tpl.language})
            </option>
          ))}
        </select>
      )}
      {template && template.params.length > 0 && (
        <div>
          <span class="blw-label">{t.parameters}</span>
          {template.params.map((param) => (
            <ParamInput key={`${key}:${param.key}`} param={param} value={values[param.key] ?? ""} onInput={(v) => setValues((cur) => ({ ...cur, [param.key]: v }))} />
          ))}
        </div>
      )}
      {preview && (
        <>
          <span class="blw-label">{t.preview}</span>
          <div class="blw-preview" data-testid="template-preview">
            {preview.header && <b>{preview.header}</b>}
            {preview.body}
            {preview.footer && <small>{preview.footer}</small>}
          </div>
        </>
      )}
      {templates.length > 0 && (
        <button type="submit" class="blw-btn" data-testid="send-button" disabled={!template || busy || !p.canSend}>
          {busy ? t.sending : t.send}
        </button>
      )}
      {result &&
        (result.ok ? (
          <div class="blw-ok" role="status" data-testid="send-result" data-message-id={result.id}>
            {result.text}
          </div>
        ) : (
          <div class="blw-error" role="alert" data-testid="send-error">
            {result.text}
          </div>
        ))}
    </form>
  );
}

function ParamInput(p: { param: PanelTemplate["params"][number]; value: string; onInput: (v: string) => void }) {
  return (
    <label class="blw-param">
      <span>{`{{${p.param.key}}}`}</span>
      <input
        class="blw-input"
        type="text"
        data-testid="template-param"
        data-key={p.param.key}
        placeholder={p.param.example ?? ""}
        value={p.value}
        onInput={(e) => p.onInput(e.currentTarget.value)}
      />
    </label>
  );
}

function Transfer(p: { ctx: BoundContext; props: LeadPanelProps; reload: () => Promise<void> }) {
  const t = p.props.strings;
  const branches = p.ctx.branches ?? [];
  const [target, setTarget] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const chosen = branches.find((b) => b.id === target);

  const transfer = async () => {
    if (!chosen || busy) return;
    setBusy(true);
    try {
      const r = await p.props.api.request<TransferResponse>("POST", "transfer", { body: { lead_id: p.props.leadId, branch_id: chosen.id } });
      setResult({ ok: true, text: fill(t.transferred, { name: r?.branch?.name ?? chosen.name }) });
      setConfirming(false);
      setTarget("");
      void p.reload();
    } catch (err) {
      setResult({ ok: false, text: errorText(err, t.transferFailed) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="blw-section">
      <span class="blw-label">{t.transfer}</span>
      <select
        class="blw-select"
        data-testid="transfer-select"
        value={target}
        onChange={(e) => {
          setTarget(e.currentTarget.value);
          setConfirming(false);
          setResult(null);
        }}
      >
        <option value="">{t.chooseBranch}</option>
        {branches.map((b) => (
          <option key={b.id} value={b.id}>
            {b.name} ({b.code})
          </option>
        ))}
      </select>
      {!confirming ? (
        <button type="button" class="blw-btn blw-btn-ghost" data-testid="transfer-button" disabled={!chosen || busy} onClick={() => setConfirming(true)}>
          {t.transferButton}
        </button>
      ) : (
        <div class="blw-confirm">
          <div>{fill(t.confirmTransfer, { name: chosen?.name ?? "" })}</div>
          <div class="blw-actions">
            <button type="button" class="blw-btn" data-testid="transfer-confirm" disabled={busy} onClick={() => void transfer()}>
              {t.confirm}
            </button>
            <button type="button" class="blw-btn blw-btn-ghost" disabled={busy} onClick={() => setConfirming(false)}>
              {t.cancel}
            </button>
          </div>
        </div>
      )}
      {result && (
        <div class={result.ok ? "blw-ok" : "blw-error"} role={result.ok ? "status" : "alert"} data-testid="transfer-result">
          {result.text}
        </div>
      )}
    </div>
  );
}

function Statuses(p: { list: PanelStatus[]; offset: number; props: LeadPanelProps }) {
  const t = p.props.strings;
  const rows = [...p.list].sort((a, b) => b.at - a.at).slice(0, MAX_STATUSES);
  const now = Date.now() + p.offset;
  return (
    <div class="blw-section">
      <span class="blw-label">{t.history}</span>
      {rows.length === 0 ? (
        <div class="blw-muted blw-small">{t.noHistory}</div>
      ) : (
        <ul class="blw-statuses">
          {rows.map((s) => (
            <li key={s.id} class="blw-status" data-testid="status-row" data-status={s.status ?? ""} data-direction={s.direction}>
              <div class="blw-row">
                <span class="blw-status-text" title={s.text ?? s.template ?? ""}>
                  {s.direction === "out" ? (
                    <span class="blw-tick" data-status={s.status ?? ""} title={statusLabel(s.status, t)}>
                      {statusTick(s.status)}
                    </span>
                  ) : (
                    <span class="blw-muted">{t.incoming}: </span>
                  )}
                  {s.text || (s.template ? `[${s.template}]` : "")}
                </span>
                <span class="blw-time">{formatAt(s.at, now, p.props.lang)}</span>
              </div>
              {s.error?.message && <div class="blw-error">{s.error.message}</div>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
