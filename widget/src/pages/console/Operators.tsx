// Operators & alerts: each branch's operators (notified in WhatsApp on a handover), when they are
// reminded and HQ is called, and the handovers with every notification sent.
import { useState } from "preact/hooks";
import type { SectionProps } from "./App.js";
import { fill, labelOf, useI18n } from "./strings.js";
import type { AlertSettings, Operator, PublicBranch } from "./types.js";
import { BranchSelect, CardHead, Field, Loaded, SaveRow, StackTable, formatTime, useAction, useLoad, useSaveForm } from "./ui.js";

export function Operators({ api }: SectionProps) {
  const { t } = useI18n();
  const [branches, reloadBranches] = useLoad(() => api.branches(), [api], t);
  return (
    <>
      <section class="cx-card">
        <h2>{t.operatorsTitle}</h2>
        <p class="cx-hint" style="margin:-6px 0 12px">
          {t.operatorsHint}
        </p>
        <Loaded load={branches} onRetry={reloadBranches} isEmpty={(d) => d.length === 0} emptyText={t.noBranches}>
          {(list) => <BranchOperators api={api} branches={list} />}
        </Loaded>
      </section>
      <Alerts api={api} />
      <Handovers api={api} branches={branches.state === "ready" ? branches.data : []} />
    </>
  );
}

function BranchOperators({ api, branches }: SectionProps & { branches: PublicBranch[] }) {
  const { t } = useI18n();
  const [branchId, setBranchId] = useState(branches[0]!.id);
  const [ops, reload] = useLoad(() => api.operators(branchId), [api, branchId], t);
  const { error, run } = useAction(reload);
  const act = (fn: () => Promise<unknown>) => run(branchId, fn);
  return (
    <>
      <BranchSelect branches={branches} value={branchId} onChange={setBranchId} testId="operators-branch" />
      {error && (
        <p class="cx-error" role="alert" data-testid="operator-error">
          {error}
        </p>
      )}
      <Loaded load={ops} onRetry={reload} isEmpty={(d) => d.operators.length === 0} emptyText={t.noOperators} emptyTestId="no-operators">
        {(data) => (
          <div data-testid="operators">
            {data.operators.map((op) => (
              <OperatorRow key={`${op.id}:${op.name}:${op.phone}:${op.notifyWhatsApp}`} op={op} onSave={(patch) => act(() => api.updateOperator(branchId, op.id, patch))} onDelete={() => act(async () => confirm(t.confirmDeleteOperator) && api.deleteOperator(branchId, op.id))} />
            ))}
          </div>
        )}
      </Loaded>
      <OperatorForm key={branchId} onAdd={(op) => act(() => api.addOperator(branchId, op))} />
    </>
  );
}

type OperatorFields = { name: string; phone: string; notifyWhatsApp: boolean };

function OperatorFieldsView({ value, onChange, prefix }: { value: OperatorFields; onChange: (v: OperatorFields) => void; prefix: string }) {
  const { t } = useI18n();
  return (
    <>
      <div class="cx-grid">
        <Field label={t.opName}>
          <input class="cx-input" required maxLength={200} data-testid={`${prefix}-name`} value={value.name} onInput={(e) => onChange({ ...value, name: e.currentTarget.value })} />
        </Field>
        <Field label={t.opPhone}>
          <input class="cx-input" type="tel" required placeholder="+7 916 123-45-67" data-testid={`${prefix}-phone`} value={value.phone} onInput={(e) => onChange({ ...value, phone: e.currentTarget.value })} />
        </Field>
      </div>
      <label class="cx-check">
        <input type="checkbox" data-testid={`${prefix}-notify`} checked={value.notifyWhatsApp} onChange={(e) => onChange({ ...value, notifyWhatsApp: e.currentTarget.checked })} />
        {t.opNotify}
      </label>
    </>
  );
}

function OperatorRow({ op, onSave, onDelete }: { op: Operator; onSave: (patch: OperatorFields) => Promise<boolean>; onDelete: () => void }) {
  const { t } = useI18n();
  const [editing, setEditing] = useState<OperatorFields | null>(null);
  if (editing)
    return (
      <form
        class="cx-branch"
        style="margin-bottom:8px"
        data-testid="operator-edit"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await onSave({ ...editing, name: editing.name.trim(), phone: editing.phone.trim() })) setEditing(null);
        }}
      >
        <OperatorFieldsView value={editing} onChange={setEditing} prefix="edit-op" />
        <div class="cx-row">
          <button type="submit" class="cx-btn" data-testid="operator-save">
            {t.save}
          </button>
          <button type="button" class="cx-btn cx-btn-ghost" onClick={() => setEditing(null)}>
            {t.cancel}
          </button>
        </div>
      </form>
    );
  return (
    <div class="cx-branch" style="margin-bottom:8px" data-testid="operator" data-phone={op.phone}>
      <div class="cx-branch-title">
        <b data-testid="operator-name">{op.name}</b>
        <code>{op.phone}</code>
        <span class="cx-badge" data-tone={op.notifyWhatsApp ? "good" : undefined} data-testid="operator-notify" data-on={String(op.notifyWhatsApp)}>
          WhatsApp: {op.notifyWhatsApp ? t.yes : t.no}
        </span>
      </div>
      <div class="cx-row">
        <button type="button" class="cx-btn cx-btn-ghost" data-testid="operator-edit-button" onClick={() => setEditing({ name: op.name, phone: op.phone, notifyWhatsApp: op.notifyWhatsApp })}>
          {t.edit}
        </button>
        <button type="button" class="cx-btn cx-btn-ghost cx-btn-danger" data-testid="operator-delete" onClick={onDelete}>
          {t.delete}
        </button>
      </div>
    </div>
  );
}

function OperatorForm({ onAdd }: { onAdd: (op: OperatorFields) => Promise<boolean> }) {
  const { t } = useI18n();
  const empty: OperatorFields = { name: "", phone: "", notifyWhatsApp: true };
  const [form, setForm] = useState(empty);
  const [busy, setBusy] = useState(false);
  return (
    <form
      data-testid="add-operator"
      style="margin-top:12px"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        if (await onAdd({ ...form, name: form.name.trim(), phone: form.phone.trim() })) setForm(empty);
        setBusy(false);
      }}
    >
      <h3 class="cx-small" style="margin-bottom:8px">
        {t.addOperator}
      </h3>
      <OperatorFieldsView value={form} onChange={setForm} prefix="op" />
      <button type="submit" class="cx-btn" data-testid="operator-add" disabled={busy || !form.name.trim() || !form.phone.trim()}>
        {busy ? t.adding : t.addOperator}
      </button>
    </form>
  );
}

function Alerts({ api }: SectionProps) {
  const { t } = useI18n();
  const [load, reload] = useLoad(() => api.alertSettings(), [api], t);
  return (
    <section class="cx-card">
      <h2>{t.alertsTitle}</h2>
      <Loaded load={load} onRetry={reload}>
        {(settings) => <AlertsForm api={api} settings={settings} />}
      </Loaded>
    </section>
  );
}

function AlertsForm({ api, settings }: SectionProps & { settings: AlertSettings }) {
  const { t } = useI18n();
  const toForm = (s: AlertSettings) => ({ renotify: String(s.renotifyAfterMinutes), escalate: String(s.escalateAfterMinutes), template: s.template ?? "" });
  const { form, set, status, submit } = useSaveForm(
    () => toForm(settings),
    async (f) => toForm(await api.saveAlertSettings({ renotifyAfterMinutes: Number(f.renotify), escalateAfterMinutes: Number(f.escalate), template: f.template.trim() || null })),
  );
  return (
    <form onSubmit={submit} data-testid="alert-settings">
      <div class="cx-grid">
        <Field label={t.renotifyMinutes}>
          <input class="cx-input" type="number" min="1" step="any" required data-testid="alerts-renotify" value={form.renotify} onInput={(e) => set("renotify", e.currentTarget.value)} />
        </Field>
        <Field label={t.escalateMinutes}>
          <input class="cx-input" type="number" min="1" step="any" required data-testid="alerts-escalate" value={form.escalate} onInput={(e) => set("escalate", e.currentTarget.value)} />
        </Field>
        <Field label={t.alertTemplate} hint={t.alertTemplateHint}>
          <input class="cx-input" placeholder="operator_alert:ru" data-testid="alerts-template" value={form.template} onInput={(e) => set("template", e.currentTarget.value)} />
        </Field>
      </div>
      <SaveRow status={status} prefix="alerts" />
    </form>
  );
}

function Handovers({ api, branches }: SectionProps & { branches: PublicBranch[] }) {
  const { t, lang } = useI18n();
  const [load, reload] = useLoad(() => api.handovers(), [api], t);
  const names = new Map(branches.map((b) => [b.id, b.code]));
  return (
    <section class="cx-card">
      <CardHead title={t.handoversTitle} onRefresh={reload} />
      <Loaded load={load} onRetry={reload} isEmpty={(d) => d.handovers.length === 0} emptyText={t.noHandovers}>
        {(data) => (
          <StackTable columns={[t.colWhen, t.colBranch, t.colReason, t.colState, t.colNotified]}>
            {data.handovers.map((h) => (
              <tr key={h.id} data-testid="handover-row">
                <td data-label={t.colWhen}>{formatTime(h.at, lang, t.never)}</td>
                <td data-label={t.colBranch}>{names.get(h.branchId) ?? h.branchId}</td>
                <td data-label={t.colReason} class="cx-wrap">
                  {h.reason || t.none}
                </td>
                <td data-label={t.colState}>
                  <span class="cx-badge" data-tone={h.state === "answered" ? "good" : h.state === "unanswered" ? "bad" : "warn"}>
                    {labelOf(t.hStates, h.state)}
                  </span>{" "}
                  <span class="cx-small cx-muted">{labelOf(t.hStages, h.stage)}</span>
                </td>
                <td data-label={t.colNotified} class="cx-wrap">
                  {h.notifications.length === 0 ? (
                    t.none
                  ) : (
                    <ul class="cx-notes">
                      {h.notifications.map((n, i) => (
                        <li key={i}>
                          {n.phone} · {labelOf(t.hStages, n.stage)} · {fill(t.via, { via: n.via })} · {formatTime(n.at, lang, t.never)}
                          {n.error && <span style="color:#b91c1c"> — {n.error}</span>}
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
              </tr>
            ))}
          </StackTable>
        )}
      </Loaded>
    </section>
  );
}
