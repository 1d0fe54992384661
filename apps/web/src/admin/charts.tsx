/**
 * Two small SVG charts, drawn by hand so the admin console carries no chart library. Each has a title
 * for assistive technology; the figures it draws are also on the page as text.
 */

const W = 300;
const H = 100;

/** Bars of `values`, oldest first. */
export function BarChart({ values, title }: { values: readonly number[]; title: string }) {
  const max = Math.max(1, ...values);
  const w = W / Math.max(1, values.length);
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={title}>
      <title>{title}</title>
      <line className="axis" x1="0" y1={H - 0.5} x2={W} y2={H - 0.5} />
      {values.map((v, i) => {
        const h = (v / max) * (H - 12);
        return <rect key={i} className="bar" x={i * w + 1} y={H - h} width={Math.max(1, w - 2)} height={h} />;
      })}
    </svg>
  );
}

/** A line through `values`, oldest first. */
export function Sparkline({ values, title }: { values: readonly number[]; title: string }) {
  const max = Math.max(1, ...values);
  const step = W / Math.max(1, values.length - 1);
  const points = values
    .map((v, i) => `${(i * step).toFixed(1)},${(H - 6 - (v / max) * (H - 16)).toFixed(1)}`)
    .join(' ');
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={title}>
      <title>{title}</title>
      <line className="axis" x1="0" y1={H - 0.5} x2={W} y2={H - 0.5} />
      {values.length > 1 ? <polyline className="line" points={points} /> : null}
    </svg>
  );
}
