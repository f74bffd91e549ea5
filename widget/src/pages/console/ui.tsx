// Small shared pieces of the console: formatting, loading state, error text.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, NetworkError, UnauthorizedError } from "./api.js";
import type { Lang, Strings } from "./strings.js";

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
