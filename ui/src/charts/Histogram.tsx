// Response-time histogram drawn with uPlot (bars: latency bucket → count).
import { useEffect, useRef } from 'preact/hooks';
import type UPlot from 'uplot';
import type { HistogramEntry } from '../api/types';

// uPlot is loaded on first use (it is only needed once a side panel opens),
// keeping it out of the initial bundle.
let uplotModule: Promise<typeof UPlot> | undefined;
export function loadUPlot(): Promise<typeof UPlot> {
  uplotModule ??= Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(
    ([m]) => ((m as unknown as { default?: typeof UPlot }).default ?? (m as unknown as typeof UPlot)),
  );
  return uplotModule;
}

export function histogramData(entries: HistogramEntry[]): [number[], number[]] {
  const sorted = [...entries].filter((e) => Number.isFinite(e.Value) && e.Count > 0).sort((a, b) => a.Value - b.Value);
  return [sorted.map((e) => e.Value * 1000), sorted.map((e) => e.Count)];
}

function padRange(min: number, max: number): [number, number] {
  const pad = Math.max(1, (max - min) * 0.06);
  return [Math.max(0, min - pad), max + pad];
}

export function Histogram(props: { entries: HistogramEntry[]; width?: number; height?: number; title?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const [xs, ys] = histogramData(props.entries);
    if (xs.length === 0) return;
    let plot: { destroy(): void } | undefined;
    let cancelled = false;
    void loadUPlot().then((uPlot) => {
      if (cancelled) return;
      const css = getComputedStyle(document.documentElement);
      const fg = css.getPropertyValue('--fg-muted').trim() || '#888';
      const grid = css.getPropertyValue('--grid').trim() || '#8883';
      const bar = css.getPropertyValue('--accent').trim() || '#3b82f6';
      const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
      plot = new uPlot(
        {
          width: props.width ?? Math.max(200, el.clientWidth || 300),
          height: props.height ?? 160,
          legend: { show: false },
          cursor: { drag: { x: false, y: false } },
          scales: {
            // Padding so that the first and last bars are not cut in half.
            x: { time: false, range: (_u, min, max) => padRange(min, max) },
            y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
          },
          axes: [
            { ...axis, label: 'response time (ms)', labelSize: 18, size: 36 },
            { ...axis, label: 'requests', labelSize: 18, size: 44 },
          ],
          series: [
            {},
            { label: 'requests', stroke: bar, fill: bar + '99', width: 1, paths: uPlot.paths.bars!({ size: [0.8, 24] }), points: { show: false } },
          ],
        },
        [xs, ys],
        el,
      );
    });
    return () => {
      cancelled = true;
      plot?.destroy();
    };
  }, [props.entries, props.width, props.height]);
  if (!props.entries.some((e) => e.Count > 0)) return <p class="muted">No response-time data.</p>;
  return <div ref={ref} class="histogram" data-testid="histogram" role="img" aria-label={props.title ?? 'Response-time histogram'} />;
}
