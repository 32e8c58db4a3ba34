// Turns GetTimeSeriesServiceStatistics answers into chart columns. Framework-free.
import type { TimeSeriesServiceStatistics } from '../api/types';
import { health } from '../servicemap/model';

export interface SeriesColumns {
  /** Epoch seconds. */
  t: number[];
  ok: number[];
  error: number[];
  throttle: number[];
  fault: number[];
}

/**
 * One column entry per timestamp (sorted, duplicates summed); edge statistics win over service statistics.
 * With `fill` (the window and the period, in seconds), periods of the window without a point become
 * zeros, so a service with traffic in a single minute still draws as a series over the whole window.
 */
export function seriesColumns(
  points: TimeSeriesServiceStatistics[],
  fill?: { start: number; end: number; period: number },
): SeriesColumns {
  const by = new Map<number, { ok: number; error: number; throttle: number; fault: number }>();
  for (const p of points) {
    if (typeof p.Timestamp !== 'number') continue;
    const h = health(p.EdgeSummaryStatistics ?? p.ServiceSummaryStatistics);
    const cur = by.get(p.Timestamp) ?? { ok: 0, error: 0, throttle: 0, fault: 0 };
    by.set(p.Timestamp, { ok: cur.ok + h.ok, error: cur.error + h.error, throttle: cur.throttle + h.throttle, fault: cur.fault + h.fault });
  }
  if (fill && fill.period > 0 && fill.end > fill.start && (fill.end - fill.start) / fill.period <= 2000) {
    const first = Math.floor(fill.start / fill.period) * fill.period;
    for (let t = first; t < fill.end; t += fill.period) {
      if (!by.has(t)) by.set(t, { ok: 0, error: 0, throttle: 0, fault: 0 });
    }
  }
  const ts = [...by.keys()].sort((a, b) => a - b);
  return {
    t: ts,
    ok: ts.map((t) => by.get(t)!.ok),
    error: ts.map((t) => by.get(t)!.error),
    throttle: ts.map((t) => by.get(t)!.throttle),
    fault: ts.map((t) => by.get(t)!.fault),
  };
}
