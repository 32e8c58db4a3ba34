// Requests per period by outcome (GetTimeSeriesServiceStatistics), drawn with uPlot.
import { useEffect, useRef, useState } from 'preact/hooks';
import { isAbort } from '../api/client';
import { getTimeSeriesServiceStatistics } from '../api/xray';
import { loadUPlot } from './Histogram';
import { seriesColumns, type SeriesColumns } from './series';

export function TimeSeries(props: { selector: string; start: number; end: number; group?: string }) {
  const [cols, setCols] = useState<SeriesColumns | null>(null);
  const ref = useRef<HTMLDivElement>(null);
  const period = Math.max(60, Math.round((props.end - props.start) / 60 / 60) * 60);

  useEffect(() => {
    const ac = new AbortController();
    setCols(null);
    getTimeSeriesServiceStatistics(
      { StartTime: props.start, EndTime: props.end, EntitySelectorExpression: props.selector, Period: period, ...(props.group ? { GroupName: props.group } : {}) },
      { signal: ac.signal },
    )
      .then((r) => setCols(seriesColumns(r.TimeSeriesServiceStatistics ?? [], { start: props.start, end: props.end, period })))
      .catch((e: unknown) => {
        // Optional chart: an API without this operation simply shows nothing.
        if (!isAbort(e)) setCols({ t: [], ok: [], error: [], throttle: [], fault: [] });
      });
    return () => ac.abort();
  }, [props.selector, props.start, props.end, props.group]);

  useEffect(() => {
    const el = ref.current;
    if (!el || !cols || cols.t.length < 2) return;
    let plot: { destroy(): void } | undefined;
    let cancelled = false;
    void loadUPlot().then((uPlot) => {
      if (cancelled) return;
      const css = getComputedStyle(document.documentElement);
      const v = (n: string, d: string) => css.getPropertyValue(n).trim() || d;
      const grid = v('--grid', '#8883');
      const axis = { stroke: v('--fg-muted', '#888'), grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
      const line = (label: string, colour: string) => ({ label, stroke: colour, width: 1.5, points: { show: false } });
      plot = new uPlot(
        {
          width: Math.max(200, el.clientWidth || 300),
          height: 140,
          legend: { show: false },
          cursor: { drag: { x: false, y: false } },
          scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
          axes: [axis, { ...axis, size: 40 }],
          series: [
            {},
            line('ok', v('--ok', '#1f9d63')),
            line('error', v('--error', '#d97706')),
            line('throttle', v('--throttle', '#8b5cf6')),
            line('fault', v('--fault', '#dc2626')),
          ],
        },
        [cols.t, cols.ok, cols.error, cols.throttle, cols.fault],
        el,
      );
    });
    return () => {
      cancelled = true;
      plot?.destroy();
    };
  }, [cols]);

  if (!cols || cols.t.length < 2) return null;
  return (
    <>
      <h3>Requests per {period >= 3600 ? `${period / 3600} h` : `${period / 60} min`}</h3>
      <div ref={ref} class="histogram" data-testid="timeseries" role="img" aria-label="Requests over time by outcome" />
    </>
  );
}
