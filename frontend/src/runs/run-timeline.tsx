// The per-run timeline: an SVG Gantt of which node ran when and for how long; cached nodes are diamonds.
import { useEffect, useState } from "react";
import { formatSeconds, layoutTimeline, type TimelineInput } from "./timeline";

const ROW = 22;
const LABEL = 190;
const AXIS = 22;

export function RunTimeline({
  rows,
  runStart,
  runEnd,
  running,
  width = 900,
}: {
  rows: TimelineInput[];
  runStart: number | null;
  runEnd: number | null;
  running: boolean;
  width?: number;
}) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, [running]);
  if (!rows.length) return <p className="fy-muted">The timeline appears once the run starts.</p>;
  const plot = width - LABEL - 16;
  const layout = layoutTimeline(rows, { width: plot, runStart, runEnd: running ? null : runEnd, now });
  const height = AXIS + rows.length * ROW + 6;
  return (
    <svg
      className="fy-timeline"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label="Run timeline"
    >
      <g className="axis" transform={`translate(${LABEL},0)`}>
        {layout.ticks.map((t) => (
          <g key={t.label} transform={`translate(${t.x},0)`}>
            <line y1={AXIS - 4} y2={height} />
            <text y={12} textAnchor={t.x === 0 ? "start" : "middle"}>
              {t.label}
            </text>
          </g>
        ))}
      </g>
      {layout.bars.map((b) => {
        const y = AXIS + b.row * ROW;
        const tip = `${b.label}: ${b.status}${b.marker ? "" : `, ${formatSeconds(b.seconds)}`}`;
        return (
          <g key={b.id} transform={`translate(0,${y})`} data-node={b.id}>
            <title>{tip}</title>
            <text x={6} y={ROW / 2 + 4}>
              {b.label.length > 26 ? b.label.slice(0, 25) + "…" : b.label}
            </text>
            {b.marker ? (
              <path
                className={`marker status-${b.status}`}
                d={`M ${LABEL + b.x} ${ROW / 2 - 6} l 6 6 l -6 6 l -6 -6 z`}
              />
            ) : (
              <rect
                className={`bar status-${b.status}`}
                x={LABEL + b.x}
                y={4}
                width={b.width}
                height={ROW - 8}
                rx={3}
              />
            )}
            {!b.marker && (
              <text x={Math.min(LABEL + b.x + b.width + 4, width - 60)} y={ROW / 2 + 4} className="fy-muted">
                {b.status === "cached" ? "cached" : formatSeconds(b.seconds)}
              </text>
            )}
            {b.marker && b.status === "cached" && (
              <text x={LABEL + b.x + 10} y={ROW / 2 + 4}>
                cached
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}
