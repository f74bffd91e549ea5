// Flows: the list (enable/disable), the NPS example, a JSON editor with "check" (problems by step
// and field) and "save", starting a run for a customer, and a flow's runs.
import { useState } from "preact/hooks";
import type { SectionProps } from "./App.js";
import { ApiError } from "./api.js";
import { NEW_FLOW_TEMPLATE, groupByStep, parseDefinition, problemText } from "./flow-editor.js";
import { fill, useI18n } from "./strings.js";
import type { FlowCheckResult, FlowProblem, FlowSummary, PublicBranch } from "./types.js";
import { BranchSelect, CardHead, Field, Loaded, StackTable, errorText, formatTime, useAction, useLoad } from "./ui.js";

/** What the editor holds: a flow being written (`create`) or an existing one. */
interface Editing {
  id: string;
  text: string;
  create: boolean;
}

export function Flows({ api }: SectionProps) {
  const { t } = useI18n();
  const [list, reload] = useLoad(() => api.flows(), [api], t);
  const [branches] = useLoad(() => api.branches(), [api], t);
  const [editing, setEditing] = useState<Editing>({ id: "", text: NEW_FLOW_TEMPLATE, create: true });
  const [selected, setSelected] = useState<string | null>(null);
  const { error, run } = useAction(reload);

  const edit = (id: string) =>
    run(id, async () => {
      const flow = await api.flow(id);
      setEditing({ id, text: JSON.stringify(flow.definition, null, 2), create: false });
      setSelected(id);
      document.querySelector('[data-testid="flow-editor"]')?.scrollIntoView({ behavior: "smooth" });
    });
  const toggle = (f: FlowSummary) => run(f.id, () => api.setFlowEnabled(f.id, !f.enabled));
  const remove = (f: FlowSummary) =>
    confirm(t.confirmDeleteFlow) &&
    run(f.id, async () => {
      await api.deleteFlow(f.id);
      if (selected === f.id) setSelected(null);
    });

  const flows = list.state === "ready" ? list.data.flows : [];
  return (
    <>
      <section class="cx-card">
        <CardHead title={t.flowsTitle} onRefresh={reload} />
        {error && (
          <p class="cx-error" role="alert">
            {error}
          </p>
        )}
        <Loaded load={list} onRetry={reload} isEmpty={(d) => d.flows.length === 0} emptyText={t.noFlows}>
          {(data) => (
            <StackTable columns={[t.colName, { label: t.colSteps, num: true }, { label: t.colVersion, num: true }, { label: t.colPeriod, num: true }, t.colState, t.colActions]}>
              {data.flows.map((f) => (
                <tr key={f.id} data-testid="flow-row" data-id={f.id} data-enabled={String(f.enabled)}>
                  <td data-label={t.colName} class="cx-wrap">
                    <b>{f.name}</b> <code class="cx-muted">{f.id}</code>
                  </td>
                  <td data-label={t.colSteps} class="cx-num">
                    {f.steps}
                  </td>
                  <td data-label={t.colVersion} class="cx-num">
                    {f.version}
                  </td>
                  <td data-label={t.colPeriod} class="cx-num">
                    {f.oncePerDays ?? t.none}
                  </td>
                  <td data-label={t.colState}>
                    <span class="cx-badge" data-tone={f.enabled ? "good" : "warn"}>
                      {f.enabled ? t.enabled : t.disabled}
                    </span>
                  </td>
                  <td data-label={t.colActions}>
                    <div class="cx-row">
                      <button type="button" class="cx-btn cx-btn-ghost" data-testid="flow-edit" onClick={() => void edit(f.id)}>
                        {t.edit}
                      </button>
                      <button type="button" class="cx-btn cx-btn-ghost" data-testid="flow-toggle" onClick={() => void toggle(f)}>
                        {f.enabled ? t.disable : t.enable}
                      </button>
                      <button type="button" class="cx-btn cx-btn-ghost" data-testid="flow-runs" onClick={() => setSelected(f.id)}>
                        {t.runs}
                      </button>
                      <button type="button" class="cx-btn cx-btn-ghost cx-btn-danger" onClick={() => void remove(f)}>
                        {t.delete}
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </StackTable>
          )}
        </Loaded>
      </section>
      <InstallNps api={api} onInstalled={reload} />
      <Editor
        api={api}
        editing={editing}
        onChange={setEditing}
        onNew={() => setEditing({ id: "", text: NEW_FLOW_TEMPLATE, create: true })}
        onSaved={(id) => {
          setEditing((e) => ({ ...e, id, create: false }));
          setSelected(id);
          reload();
        }}
      />
      {selected && flows.some((f) => f.id === selected) && <Runs key={selected} api={api} flowId={selected} branches={branches.state === "ready" ? branches.data : []} />}
    </>
  );
}

function InstallNps({ api, onInstalled }: SectionProps & { onInstalled: () => void }) {
  const { t } = useI18n();
  const [days, setDays] = useState("30");
  const [state, setState] = useState<{ kind: "idle" | "busy" } | { kind: "done"; id: string; warnings: FlowProblem[] } | { kind: "error"; message: string }>({ kind: "idle" });
  const install = async (e: Event) => {
    e.preventDefault();
    setState({ kind: "busy" });
    try {
      const r = await api.installExample("nps", days.trim() ? { oncePerDays: Number(days) } : {});
      setState({ kind: "done", id: r.id, warnings: r.warnings });
      onInstalled();
    } catch (err) {
      setState({ kind: "error", message: errorText(err, t) });
    }
  };
  return (
    <form class="cx-card" onSubmit={install} data-testid="install-nps">
      <h2>{t.npsTitle}</h2>
      <p class="cx-hint" style="margin:-6px 0 12px">
        {t.npsHint}
      </p>
      <div class="cx-grid">
        <Field label={t.oncePerDays}>
          <input class="cx-input" type="number" min="1" max="3650" step="any" data-testid="nps-days" value={days} onInput={(e) => setDays(e.currentTarget.value)} />
        </Field>
      </div>
      {state.kind === "error" && <p class="cx-error">{state.message}</p>}
      {state.kind === "done" && (
        <>
          <p class="cx-ok" data-testid="nps-installed">
            {fill(t.installed, { id: state.id })}
          </p>
          <ProblemList problems={state.warnings} kind="warning" />
        </>
      )}
      <button type="submit" class="cx-btn" data-testid="nps-install" disabled={state.kind === "busy"}>
        {state.kind === "busy" ? t.installing : t.install}
      </button>
    </form>
  );
}

/** Problems (or warnings) grouped under the step they name; flow-level ones first without a step. */
function ProblemList({ problems, kind }: { problems: FlowProblem[]; kind: "problem" | "warning" }) {
  const { t } = useI18n();
  if (problems.length === 0) return null;
  return (
    <>
      <b class="cx-small">{kind === "problem" ? t.problems : t.warnings}</b>
      <ul class="cx-problems" data-testid={kind === "problem" ? "flow-problems" : "flow-warnings"}>
        {groupByStep(problems).flatMap((g) =>
          g.problems.map((p, i) => (
            <li key={`${g.step}-${i}`} data-kind={kind} data-testid="flow-problem" data-step={g.step} data-field={p.field ?? ""}>
              <b>{g.step ? fill(t.stepLabel, { step: g.step }) : t.flowLevel}</b>
              {p.field && <code>{p.field}</code>}
              {": "}
              {problemText(p)}
            </li>
          )),
        )}
      </ul>
    </>
  );
}

function Editor(props: SectionProps & { editing: Editing; onChange: (e: Editing) => void; onNew: () => void; onSaved: (id: string) => void }) {
  const { api, editing } = props;
  const { t } = useI18n();
  const [result, setResult] = useState<FlowCheckResult | null>(null);
  const [status, setStatus] = useState<{ kind: "idle" | "checking" | "saving" } | { kind: "saved"; version: number } | { kind: "error"; message: string }>({ kind: "idle" });
  const change = (patch: Partial<Editing>) => {
    props.onChange({ ...editing, ...patch });
    setStatus({ kind: "idle" });
  };

  const parsed = () => {
    const p = parseDefinition(editing.text);
    if (!p.ok) setStatus({ kind: "error", message: fill(t.invalidJson, { message: p.message }) });
    return p.ok ? p.value : null;
  };
  const check = async () => {
    const definition = parsed();
    if (!definition) return setResult(null);
    setStatus({ kind: "checking" });
    try {
      setResult(await api.checkFlow(definition));
      setStatus({ kind: "idle" });
    } catch (err) {
      setStatus({ kind: "error", message: errorText(err, t) });
    }
  };
  const save = async (e: Event) => {
    e.preventDefault();
    const definition = parsed();
    if (!definition) return;
    setStatus({ kind: "saving" });
    try {
      const saved = await api.saveFlow(editing.id.trim(), definition, editing.create);
      setResult({ ok: true, problems: [], warnings: saved.warnings });
      setStatus({ kind: "saved", version: saved.version });
      props.onSaved(saved.id);
    } catch (err) {
      // A refused save carries every problem, like "check".
      const problems = err instanceof ApiError ? (err.details as { problems?: FlowProblem[] } | undefined)?.problems : undefined;
      if (problems) setResult({ ok: false, problems, warnings: [] });
      setStatus({ kind: "error", message: errorText(err, t) });
    }
  };

  return (
    <form class="cx-card" onSubmit={save} data-testid="flow-editor">
      <div class="cx-head">
        <h2>{t.editorTitle}</h2>
        <button
          type="button"
          class="cx-btn cx-btn-ghost"
          data-testid="flow-new"
          onClick={() => {
            setResult(null);
            setStatus({ kind: "idle" });
            props.onNew();
          }}
        >
          {t.newFlow}
        </button>
      </div>
      <Field label={t.flowId} hint={t.flowIdHint}>
        <input class="cx-input" required pattern="[a-z0-9][a-z0-9_\-]{0,63}" data-testid="flow-id" value={editing.id} readOnly={!editing.create} onInput={(e) => change({ id: e.currentTarget.value })} />
      </Field>
      <Field label={t.definition}>
        <textarea
          class="cx-input cx-code"
          rows={18}
          spellcheck={false}
          autocomplete="off"
          data-testid="flow-json"
          value={editing.text}
          onInput={(e) => {
            change({ text: e.currentTarget.value });
            setResult(null);
          }}
        />
      </Field>
      {status.kind === "error" && (
        <p class="cx-error" role="alert" data-testid="flow-error">
          {status.message}
        </p>
      )}
      {result && (
        <div data-testid="flow-check" data-ok={String(result.ok)}>
          {result.ok && result.warnings.length === 0 && <p class="cx-ok">{t.checkOk}</p>}
          <ProblemList problems={result.problems} kind="problem" />
          <ProblemList problems={result.warnings} kind="warning" />
        </div>
      )}
      <div class="cx-row">
        <button type="button" class="cx-btn cx-btn-ghost" data-testid="flow-check-button" disabled={status.kind === "checking" || status.kind === "saving"} onClick={() => void check()}>
          {status.kind === "checking" ? t.checking : t.check}
        </button>
        <button type="submit" class="cx-btn" data-testid="flow-save" disabled={status.kind === "checking" || status.kind === "saving" || !editing.id.trim()}>
          {status.kind === "saving" ? t.saving : t.save}
        </button>
        {status.kind === "saved" && (
          <span class="cx-ok" data-testid="flow-saved">
            {fill(t.savedFlow, { v: status.version })}
          </span>
        )}
      </div>
    </form>
  );
}

function Runs({ api, flowId, branches }: SectionProps & { flowId: string; branches: PublicBranch[] }) {
  const { t, lang } = useI18n();
  const [runs, reload] = useLoad(() => api.flowRuns(flowId), [api, flowId], t);
  const [phone, setPhone] = useState("");
  const [branchId, setBranchId] = useState(branches[0]?.id ?? "");
  const [state, setState] = useState<{ kind: "idle" | "busy" | "done" } | { kind: "error"; message: string }>({ kind: "idle" });
  const names = new Map(branches.map((b) => [b.id, b.code]));
  const start = async (e: Event) => {
    e.preventDefault();
    setState({ kind: "busy" });
    try {
      await api.startFlow(flowId, phone.trim(), branchId || branches[0]?.id || "");
      setState({ kind: "done" });
      reload();
    } catch (err) {
      setState({ kind: "error", message: errorText(err, t) });
    }
  };
  return (
    <section class="cx-card" data-testid="flow-runs-card">
      <CardHead title={fill(t.runsTitle, { id: flowId })} onRefresh={reload} />
      <form onSubmit={start} data-testid="flow-start">
        <b class="cx-small">{t.startRunTitle}</b>
        <div class="cx-grid" style="margin-top:6px">
          <Field label={t.opPhone}>
            <input class="cx-input" type="tel" required placeholder="+7 916 123-45-67" data-testid="run-phone" value={phone} onInput={(e) => setPhone(e.currentTarget.value)} />
          </Field>
          <BranchSelect branches={branches} value={branchId} onChange={setBranchId} testId="run-branch" />
        </div>
        {state.kind === "error" && (
          <p class="cx-error" role="alert" data-testid="run-error">
            {state.message}
          </p>
        )}
        <div class="cx-row" style="margin-bottom:12px">
          <button type="submit" class="cx-btn" data-testid="run-start" disabled={state.kind === "busy" || !phone.trim() || branches.length === 0}>
            {t.start}
          </button>
          {state.kind === "done" && <span class="cx-ok">{t.runStarted}</span>}
        </div>
      </form>
      <Loaded load={runs} onRetry={reload} isEmpty={(d) => d.runs.length === 0} emptyText={t.noRuns}>
        {(data) => (
          <StackTable columns={[t.colStarted, t.colBranch, t.colStatus, t.colOutcome, t.colStep, t.colError]}>
            {data.runs.map((r) => (
              <tr key={r.id} data-testid="run-row" data-status={r.status}>
                <td data-label={t.colStarted}>{formatTime(r.startedAt, lang, t.never)}</td>
                <td data-label={t.colBranch}>{names.get(r.branchId) ?? r.branchId}</td>
                <td data-label={t.colStatus}>
                  <span class="cx-badge" data-tone={r.status === "done" ? "good" : r.status === "failed" ? "bad" : "info"}>
                    {r.status}
                  </span>
                </td>
                <td data-label={t.colOutcome}>{r.outcome ?? t.none}</td>
                <td data-label={t.colStep}>
                  <code>{r.waiting?.stepId ?? r.stepId ?? t.none}</code>
                </td>
                <td data-label={t.colError} class="cx-wrap">
                  {r.error ?? t.none}
                </td>
              </tr>
            ))}
          </StackTable>
        )}
      </Loaded>
    </section>
  );
}
