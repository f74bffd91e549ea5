// Jobs that failed for good (connector deliveries, sends…): retry or discard.
import type { SectionProps } from "./App.js";
import { useI18n } from "./strings.js";
import { CardHead, Loaded, StackTable, formatTime, useAction, useLoad } from "./ui.js";

export function DeadLetters({ api }: SectionProps) {
  const { t, lang } = useI18n();
  const [load, reload] = useLoad(async () => {
    const [dead, branches] = await Promise.all([api.deadLetters(), api.branches()]);
    return { dead: dead.deadLetters, names: new Map(branches.map((b) => [b.id, `${b.name} (${b.code})`])) };
  }, [api], t);
  const { busy, error, run: act } = useAction(reload);

  return (
    <section class="cx-card">
      <CardHead title={t.deadTitle} onRefresh={reload} />
      <p class="cx-hint" style="margin:-6px 0 12px">
        {t.deadHint}
      </p>
      {error && <p class="cx-error">{error}</p>}
      <Loaded load={load} onRetry={reload} isEmpty={(d) => d.dead.length === 0} emptyText={t.noDead} emptyTestId="no-dead-letters">
        {(data) => (
          <StackTable columns={[t.colFailedAt, t.colQueue, t.colBranch, { label: t.colAttempts, num: true }, t.colLastError, t.colActions]}>
            {data.dead.map((j) => (
              <tr key={j.id} data-testid="dead-letter">
                <td data-label={t.colFailedAt}>{formatTime(j.failedAt, lang, t.never)}</td>
                <td data-label={t.colQueue}>{j.queue}</td>
                <td data-label={t.colBranch}>{j.branchId ? (data.names.get(j.branchId) ?? j.branchId) : t.none}</td>
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
          </StackTable>
        )}
      </Loaded>
    </section>
  );
}
