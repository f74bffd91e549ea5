// A small SVG chart over days: lines, bars or stacked bars. No chart library.

export interface Series {
  label: string;
  color: string;
  /** One value per day; null = no data that day (a gap in a line). */
  values: (number | null)[];
}

const W = 320;
const H = 130;
const PAD = { left: 30, right: 6, top: 8, bottom: 18 };

/** A round axis maximum ≥ max: 1, 2, 5 × 10^n. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

export function Chart(props: { days: string[]; series: Series[]; kind: "line" | "bars" | "stacked"; min?: number; testId?: string }) {
  const { days, series, kind } = props;
  const n = days.length;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const sums = days.map((_, i) => series.reduce((s, x) => s + (x.values[i] ?? 0), 0));
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const dataMax = kind === "stacked" ? Math.max(0, ...sums) : Math.max(0, ...all);
  const dataMin = props.min ?? Math.min(0, ...all);
  const top = niceMax(dataMax);
  const bottom = dataMin < 0 ? -niceMax(-dataMin) : 0;
  const y = (v: number) => PAD.top + plotH - ((v - bottom) / (top - bottom || 1)) * plotH;
  const slot = plotW / Math.max(n, 1);
  const x = (i: number) => PAD.left + slot * (i + 0.5);

  const shapes = [];
  if (kind === "line") {
    for (const s of series) {
      // Split the line at days without data.
      let d = "";
      s.values.forEach((v, i) => {
        if (v === null) return;
        d += `${i === 0 || s.values[i - 1] === null ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      });
      shapes.push(<path key={s.label} d={d} fill="none" stroke={s.color} stroke-width="1.8" stroke-linejoin="round" />);
      if (n <= 62)
        s.values.forEach((v, i) => v !== null && shapes.push(<circle key={`${s.label}${i}`} cx={x(i)} cy={y(v)} r="1.8" fill={s.color} />));
    }
  } else {
    const groups = kind === "bars" ? series.length : 1;
    const barW = Math.max(1, (slot * 0.8) / groups);
    days.forEach((_, i) => {
      let base = 0;
      series.forEach((s, k) => {
        const v = s.values[i] ?? 0;
        if (v === 0) return;
        const left = kind === "bars" ? x(i) - (barW * groups) / 2 + k * barW : x(i) - barW / 2;
        const from = kind === "stacked" ? base : 0;
        const to = from + v;
        if (kind === "stacked") base = to;
        shapes.push(<rect key={`${s.label}${i}`} x={left} y={y(Math.max(from, to))} width={barW} height={Math.abs(y(from) - y(to))} fill={s.color} />);
      });
    });
  }

  return (
    <>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" data-testid={props.testId} aria-label={series.map((s) => s.label).join(", ")}>
        <line x1={PAD.left} x2={W - PAD.right} y1={y(top)} y2={y(top)} stroke="#eef2f6" />
        <line x1={PAD.left} x2={W - PAD.right} y1={y(0)} y2={y(0)} stroke="#cbd5e1" />
        <text x={PAD.left - 4} y={y(top) + 3} font-size="9" text-anchor="end" fill="#64748b">
          {top}
        </text>
        <text x={PAD.left - 4} y={y(0) + 3} font-size="9" text-anchor="end" fill="#64748b">
          0
        </text>
        {bottom < 0 && (
          <text x={PAD.left - 4} y={y(bottom) + 3} font-size="9" text-anchor="end" fill="#64748b">
            {bottom}
          </text>
        )}
        {shapes}
        {n > 0 && (
          <>
            <text x={PAD.left} y={H - 4} font-size="9" fill="#64748b">
              {days[0]}
            </text>
            {n > 1 && (
              <text x={W - PAD.right} y={H - 4} font-size="9" text-anchor="end" fill="#64748b">
                {days[n - 1]}
              </text>
            )}
          </>
        )}
      </svg>
      {series.length > 1 && (
        <div class="cx-legend">
          {series.map((s) => (
            <span key={s.label}>
              <i style={`background:${s.color}`} />
              {s.label}
            </span>
          ))}
        </div>
      )}
    </>
  );
}
