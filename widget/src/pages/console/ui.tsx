// Small shared pieces of the console: formatting, loading state, error text.
import type { ComponentChildren, VNode } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, NetworkError, UnauthorizedError } from "./api.js";
import { useI18n, type Lang, type Strings } from "./strings.js";
import type { PublicBranch } from "./types.js";

export function formatTime(ms: number | null | undefined, lang: Lang, never: string): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return never;
  return new Intl.DateTimeFormat(lang === "ru" ? "ru-RU" : "en-GB", { dateStyle: "short", timeStyle: "short" }).format(new Date(ms));
}

export function formatPercent(rate: number | null | undefined, lang: Lang): string {
  if (rate === null || rate === undefined) return "—";
  return new Intl.NumberFormat(lang === "ru" ? "ru-RU" : "en-GB", { style: "percent", maximumFractionDigits: 1 }).format(rate);
}

export function formatNumber(n: number | null | undefined, lang: Lang): string {
  if (n === null || n === undefined) return "—";
  return new Intl.NumberFormat(lang === "ru" ? "ru-RU" : "en-GB", { maximumFractionDigits: 1 }).format(n);
}

export function errorText(err: unknown, t: Strings): string {
  if (err instanceof NetworkError) return t.networkError;
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

export type Load<T> = { state: "loading" } | { state: "error"; error: string } | { state: "ready"; data: T };

/**
 * Runs `fetcher` on mount and whenever `deps` change; `reload()` runs it again. A 401 is left to
 * the API client (it ends the session), so it never shows as an error here.
 */
export function useLoad<T>(fetcher: () => Promise<T>, deps: unknown[], t: Strings): [Load<T>, () => void] {
  const [load, setLoad] = useState<Load<T>>({ state: "loading" });
  const seq = useRef(0);
  const run = useCallback(() => {
    const mine = ++seq.current;
    setLoad((prev) => (prev.state === "ready" ? prev : { state: "loading" }));
    fetcher().then(
      (data) => mine === seq.current && setLoad({ state: "ready", data }),
      (err) => {
        if (err instanceof UnauthorizedError || mine !== seq.current) return;
        setLoad({ state: "error", error: errorText(err, t) });
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(run, [run]);
  return [load, run];
}

export function Loading(props: { load: Load<unknown>; t: Strings; onRetry?: () => void }) {
  if (props.load.state === "loading") return <p class="cx-muted">{props.t.loading}</p>;
  if (props.load.state === "error")
    return (
      <p class="cx-error" role="alert">
        {props.load.error}{" "}
        {props.onRetry && (
          <button type="button" class="cx-btn cx-btn-ghost" onClick={props.onRetry}>
            {props.t.refresh}
          </button>
        )}
      </p>
    );
  return null;
}

export function Field(props: { label: string; hint?: string; children: ComponentChildren }) {
  return (
    <label class="cx-field">
      <span>{props.label}</span>
      {props.children}
      {props.hint && <p class="cx-hint">{props.hint}</p>}
    </label>
  );
}

/** "a, b ,c" → ["a", "b", "c"] */
export const splitList = (s: string, sep: RegExp = /,/): string[] =>
  s
    .split(sep)
    .map((x) => x.trim())
    .filter(Boolean);

/** A card's title row: the title, optional controls, and a refresh button when `onRefresh` is given. */
export function CardHead(props: { title: string; onRefresh?: () => void; children?: ComponentChildren }) {
  const { t } = useI18n();
  return (
    <div class="cx-head">
      <h2>{props.title}</h2>
      {props.children}
      {props.onRefresh && (
        <button type="button" class="cx-btn cx-btn-ghost" onClick={props.onRefresh}>
          {t.refresh}
        </button>
      )}
    </div>
  );
}

/**
 * Loading/error state of `load`, then `children(data)` — or `emptyText` when `isEmpty(data)`.
 * `emptyTestId` marks the empty message for tests.
 */
export function Loaded<T>(props: { load: Load<T>; onRetry: () => void; isEmpty?: (data: T) => boolean; emptyText?: string; emptyTestId?: string; children: (data: T) => VNode | null }) {
  const { t } = useI18n();
  const { load } = props;
  if (load.state !== "ready") return <Loading load={load} t={t} onRetry={props.onRetry} />;
  if (props.isEmpty?.(load.data))
    return (
      <p class="cx-muted" data-testid={props.emptyTestId}>
        {props.emptyText}
      </p>
    );
  return props.children(load.data);
}

export type Column = string | { label: string; num?: boolean };

/** A table that stacks into label/value rows on a phone (each `td` carries its `data-label`). */
export function StackTable(props: { columns: Column[]; testId?: string; children: ComponentChildren }) {
  return (
    <div class="cx-table-wrap">
      <table class="cx-table cx-stack" data-testid={props.testId}>
        <thead>
          <tr>
            {props.columns.map((c, i) => (typeof c === "string" ? <th key={i}>{c}</th> : <th key={i} class={c.num ? "cx-num" : undefined}>{c.label}</th>))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

/** The branch picker of the per-branch editors. */
export function BranchSelect(props: { branches: PublicBranch[]; value: string; onChange: (id: string) => void; testId: string }) {
  const { t } = useI18n();
  return (
    <Field label={t.chooseBranch}>
      <select class="cx-input" data-testid={props.testId} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        {props.branches.map((b) => (
          <option key={b.id} value={b.id}>
            {b.name} ({b.code})
          </option>
        ))}
      </select>
    </Field>
  );
}

export type SaveStatus = { kind: "idle" | "saving" | "saved" } | { kind: "error"; message: string };

/**
 * A settings form: its fields, `set` (which clears the last outcome) and `submit`, which runs
 * `save` and takes the saved values back when it returns them.
 */
export function useSaveForm<F>(initial: () => F, save: (form: F) => Promise<F | void>) {
  const { t } = useI18n();
  const [form, setForm] = useState<F>(initial);
  const [status, setStatus] = useState<SaveStatus>({ kind: "idle" });
  const set = <K extends keyof F>(k: K, v: F[K]) => {
    setForm((f) => ({ ...f, [k]: v }));
    setStatus({ kind: "idle" });
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setStatus({ kind: "saving" });
    try {
      const saved = await save(form);
      if (saved) setForm(saved);
      setStatus({ kind: "saved" });
    } catch (err) {
      setStatus({ kind: "error", message: errorText(err, t) });
    }
  };
  return { form, set, status, setStatus, submit };
}

/** A form's outcome and its save button; test ids are `<prefix>-error`, `<prefix>-save`, `<prefix>-saved`. */
export function SaveRow({ status, prefix }: { status: SaveStatus; prefix: string }) {
  const { t } = useI18n();
  return (
    <>
      {status.kind === "error" && (
        <p class="cx-error" role="alert" data-testid={`${prefix}-error`}>
          {status.message}
        </p>
      )}
      <div class="cx-row">
        <button type="submit" class="cx-btn" data-testid={`${prefix}-save`} disabled={status.kind === "saving"}>
          {status.kind === "saving" ? t.saving : t.save}
        </button>
        {status.kind === "saved" && (
          <span class="cx-ok" data-testid={`${prefix}-saved`}>
            {t.saved}
          </span>
        )}
      </div>
    </>
  );
}

/** Row actions (enable, delete, retry…): which one is running, the last error, reload after success. */
export function useAction(after: () => void) {
  const { t } = useI18n();
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (id: string, fn: () => Promise<unknown>): Promise<boolean> => {
    setBusy(id);
    setError(null);
    try {
      await fn();
      after();
      return true;
    } catch (err) {
      setError(errorText(err, t));
      return false;
    } finally {
      setBusy(null);
    }
  };
  return { busy, error, run };
}
