// Jobs that failed for good (connector deliveries, sends…): retry or discard.
import { useState } from "preact/hooks";
import type { SectionProps } from "./App.js";
import { useI18n } from "./strings.js";
import { Loading, errorText, formatTime, useLoad } from "./ui.js";

export function DeadLetters({ api }: SectionProps) {
  const { t, lang } = useI18n();
  const [load, reload] = useLoad(async () => {
    const [dead, branches] = await Promise.all([api.deadLetters(), api.branches()]);
    return { dead: dead.deadLetters, names: new Map(branches.map((b) => [b.id, `${b.name} (${b.code})`])) };
  }, [api], t);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const act = async (id: string, run: () => Promise<void>) => {
    setBusy(id);
    setError(null);
    try {
      await run();
      reload();
    } catch (err) {
      setError(errorText(err, t));
    } finally {
      setBusy(null);
    }
  };

  return (
    <section class="cx-card">
      <div class="cx-head">
        <h2>{t.deadTitle}</h2>
        <button type="button" class="cx-btn cx-btn-ghost" onClick={reload}>
          {t.refresh}
        </button>
      </div>
      <p class="cx-hint" style="margin:-6px 0 12px">
        {t.deadHint}
      </p>
      {error && <p class="cx-error">{error}</p>}
      <Loading load={load} t={t} onRetry={reload} />
      {load.state === "ready" &&
        (load.data.dead.length === 0 ? (
          <p class="cx-muted" data-testid="no-dead-letters">
            {t.noDead}
          </p>
        ) : (
          <div class="cx-table-wrap">
            <table class="cx-table cx-stack">
              <thead>
                <tr>
                  <th>{t.colFailedAt}</th>
                  <th>{t.colQueue}</th>
                  <th>{t.colBranch}</th>
                  <th class="cx-num">{t.colAttempts}</th>
                  <th>{t.colLastError}</th>
                  <th>{t.colActions}</th>
                </tr>
              </thead>
              <tbody>
                {load.data.dead.map((j) => (
                  <tr key={j.id} data-testid="dead-letter">
                    <td data-label={t.colFailedAt}>{formatTime(j.failedAt, lang, t.never)}</td>
                    <td data-label={t.colQueue}>{j.queue}</td>
                    <td data-label={t.colBranch}>{j.branchId ? (load.data.names.get(j.branchId) ?? j.branchId) : t.none}</td>
                    <td data-label={t.colAttempts} class="cx-num">
                      {j.attempts}
                    </td>
                    <td data-label={t.colLastError} class="cx-wrap">
                      {j.lastError ?? t.none}
                    </td>
                    <td data-label={t.colActions}>
                      <div class="cx-row">
                        <button type="button" class="cx-btn cx-btn-ghost" data-testid="retry-dead" disabled={busy === j.id} onClick={() => act(j.id, () => api.retryDeadLetter(j.id))}>
                          {t.retry}
                        </button>
                        <button
                          type="button"
                          class="cx-btn cx-btn-ghost cx-btn-danger"
                          disabled={busy === j.id}
                          onClick={() => act(j.id, async () => (confirm(t.confirmDiscard) ? api.discardDeadLetter(j.id) : undefined))}
                        >
                          {t.discard}
                        </button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
    </section>
  );
}
