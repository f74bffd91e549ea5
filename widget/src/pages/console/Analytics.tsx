// Analytics: per-day charts over the selected branches, totals per branch, CSV/JSON export.
import { useState } from "preact/hooks";
import { saveBlob } from "../shared/http.js";
import type { SectionProps } from "./App.js";
import { Chart, type Series } from "./Chart.js";
import { useI18n, type Strings } from "./strings.js";
import type { AnalyticsResponse, AnalyticsRow } from "./types.js";
import { Field, Loading, StackTable, errorText, formatNumber, useLoad } from "./ui.js";

const DAY_MS = 86_400_000;
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const PRICING: { key: string; color: string }[] = [
  { key: "marketing", color: "#db2777" },
  { key: "marketing_lite", color: "#f472b6" },
  { key: "utility", color: "#0284c7" },
  { key: "authentication", color: "#7c3aed" },
  { key: "authentication_international", color: "#a78bfa" },
  { key: "service", color: "#16a34a" },
  { key: "referral_conversion", color: "#f59e0b" },
  { key: "other", color: "#64748b" },
];

type Query = { from: string; to: string; branch: string };

export function Analytics({ api }: SectionProps) {
  const { t } = useI18n();
  const today = utcDay(Date.now());
  const [draft, setDraft] = useState<Query>({ from: utcDay(Date.now() - 29 * DAY_MS), to: today, branch: "" });
  const [query, setQuery] = useState<Query>(draft);
  const [branches] = useLoad(() => api.branches(), [api], t);
  const [load, reload] = useLoad(() => api.analytics(withBranch(query)), [api, query.from, query.to, query.branch], t);
  const [exportError, setExportError] = useState<string | null>(null);

  const download = async (format: "csv" | "json") => {
    setExportError(null);
    try {
      const { blob, filename } = await api.download(withBranch(query), format);
      saveBlob(blob, filename, 10_000);
    } catch (err) {
      setExportError(errorText(err, t));
    }
  };

  return (
    <>
      <section class="cx-card">
        <h2>{t.analyticsTitle}</h2>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setQuery(draft);
          }}
        >
          <div class="cx-grid">
            <Field label={t.from}>
              <input class="cx-input" type="date" required data-testid="an-from" value={draft.from} max={draft.to} onInput={(e) => setDraft({ ...draft, from: e.currentTarget.value })} />
            </Field>
            <Field label={t.to}>
              <input class="cx-input" type="date" required data-testid="an-to" value={draft.to} min={draft.from} onInput={(e) => setDraft({ ...draft, to: e.currentTarget.value })} />
            </Field>
            <Field label={t.colBranch}>
              <select class="cx-input" data-testid="an-branch" value={draft.branch} onChange={(e) => setDraft({ ...draft, branch: e.currentTarget.value })}>
                <option value="">{t.allBranches}</option>
                {branches.state === "ready" &&
                  branches.data.map((b) => (
                    <option key={b.id} value={b.id}>
                      {b.name} ({b.code})
                    </option>
                  ))}
              </select>
            </Field>
          </div>
          <div class="cx-row">
            <button type="submit" class="cx-btn" data-testid="an-show">
              {t.show}
            </button>
            <button type="button" class="cx-btn cx-btn-ghost" data-testid="export-csv" onClick={() => download("csv")}>
              {t.exportCsv}
            </button>
            <button type="button" class="cx-btn cx-btn-ghost" data-testid="export-json" onClick={() => download("json")}>
              {t.exportJson}
            </button>
          </div>
        </form>
        <p class="cx-hint">{t.analyticsHint}</p>
        {exportError && <p class="cx-error">{exportError}</p>}
      </section>
      <Loading load={load} t={t} onRetry={reload} />
      {load.state === "ready" && <Charts data={load.data} t={t} />}
      {load.state === "ready" && <BranchTotals rows={load.data.rows} t={t} />}
    </>
  );
}

const withBranch = (q: Query) => ({ from: q.from, to: q.to, ...(q.branch ? { branch: q.branch } : {}) });

function Charts({ data, t }: { data: AnalyticsResponse; t: Strings }) {
  const { lang } = useI18n();
  const days = data.byDay.map((d) => d.date);
  const col = (key: string) => data.byDay.map((d) => (d[key] === undefined ? 0 : d[key]!));
  const total = (key: string) => formatNumber(data.totals[key], lang);
  const pricing: Series[] = PRICING.map((p) => ({ label: p.key, color: p.color, values: col(`pricing_${p.key}`) })).filter((s) => s.values.some((v) => (v ?? 0) > 0));

  const charts: { id: string; title: string; total: string; series: Series[]; kind: "line" | "bars" | "stacked"; min?: number }[] = [
    {
      id: "messages",
      title: `${t.m_inbound} / ${t.m_outbound}`,
      total: `${total("inbound")} / ${total("outbound")}`,
      kind: "line",
      series: [
        { label: t.m_inbound, color: "#0f766e", values: col("inbound") },
        { label: t.m_outbound, color: "#2563eb", values: col("outbound") },
      ],
    },
    {
      id: "statuses",
      title: `${t.m_delivered} / ${t.m_read} / ${t.m_failed}`,
      total: `${total("delivered")} / ${total("read")} / ${total("failed")}`,
      kind: "bars",
      series: [
        { label: t.m_delivered, color: "#22c55e", values: col("delivered") },
        { label: t.m_read, color: "#0ea5e9", values: col("read") },
        { label: t.m_failed, color: "#dc2626", values: col("failed") },
      ],
    },
    { id: "replied", title: t.m_replied, total: total("replied"), kind: "bars", series: [{ label: t.m_replied, color: "#7c3aed", values: col("replied") }] },
    {
      id: "first-response",
      title: t.m_first_response_p50_seconds,
      total: total("first_response_p50_seconds"),
      kind: "line",
      series: [{ label: t.m_first_response_p50_seconds, color: "#ea580c", values: col("first_response_p50_seconds") }],
    },
    {
      id: "nps",
      title: `${t.m_nps_score} (${t.m_nps_promoters} / ${t.m_nps_passives} / ${t.m_nps_detractors}: ${total("nps_promoters")} / ${total("nps_passives")} / ${total("nps_detractors")})`,
      total: total("nps_score"),
      kind: "line",
      series: [{ label: t.m_nps_score, color: "#0891b2", values: col("nps_score") }],
    },
    {
      id: "pricing",
      title: `${t.m_pricing} (${t.m_pricing_free}: ${total("pricing_free")})`,
      total: formatNumber(PRICING.reduce((s, p) => s + (data.totals[`pricing_${p.key}`] ?? 0), 0), lang),
      kind: "stacked",
      series: pricing,
    },
  ];

  return (
    <section class="cx-card" data-testid="analytics-charts">
      <h2>
        {data.from} — {data.to}
      </h2>
      <div class="cx-charts">
        {charts.map((c) => (
          <figure key={c.id} class="cx-chart" style="margin:0" data-testid={`chart-${c.id}`}>
            <h3>
              <span>{c.title}</span>
              <b data-testid={`total-${c.id}`}>{c.total}</b>
            </h3>
            <Chart days={days} series={c.series} kind={c.kind} testId="chart-svg" />
          </figure>
        ))}
      </div>
    </section>
  );
}

const TABLE_METRICS = ["inbound", "outbound", "delivered", "read", "failed", "replied"] as const;

function BranchTotals({ rows, t }: { rows: AnalyticsRow[]; t: Strings }) {
  const { lang } = useI18n();
  const byBranch = new Map<string, { name: string; code: string; sums: Record<string, number> }>();
  for (const r of rows) {
    const b = byBranch.get(r.branch_id) ?? { name: r.branch_name, code: r.branch_code, sums: {} };
    for (const m of [...TABLE_METRICS, "nps_promoters", "nps_passives", "nps_detractors"]) b.sums[m] = (b.sums[m] ?? 0) + Number(r[m] ?? 0);
    byBranch.set(r.branch_id, b);
  }
  if (byBranch.size === 0) return <p class="cx-muted">{t.noData}</p>;
  const label = (m: (typeof TABLE_METRICS)[number]) => t[`m_${m}` as keyof Strings];
  return (
    <section class="cx-card">
      <h2>{t.totals}</h2>
      <StackTable testId="branch-totals" columns={[t.colBranch, ...TABLE_METRICS.map((m) => ({ label: label(m), num: true })), { label: t.m_nps_score, num: true }]}>
        {[...byBranch.entries()].map(([id, b]) => {
          const answers = (b.sums.nps_promoters ?? 0) + (b.sums.nps_passives ?? 0) + (b.sums.nps_detractors ?? 0);
          const nps = answers > 0 ? (((b.sums.nps_promoters ?? 0) - (b.sums.nps_detractors ?? 0)) * 100) / answers : null;
          return (
            <tr key={id}>
              <td data-label={t.colBranch}>
                {b.name} <code class="cx-muted">{b.code}</code>
              </td>
              {TABLE_METRICS.map((m) => (
                <td key={m} data-label={label(m)} class="cx-num">
                  {formatNumber(b.sums[m], lang)}
                </td>
              ))}
              <td data-label={t.m_nps_score} class="cx-num">
                {formatNumber(nps, lang)}
              </td>
            </tr>
          );
        })}
      </StackTable>
    </section>
  );
}
