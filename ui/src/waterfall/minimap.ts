// Canvas overview of all waterfall rows (one thin bar per row, coloured by
// status) with the visible window marked; framework-free drawing helpers.
import type { Row, Status } from './model';

export interface MinimapBar {
  x: number;
  y: number;
  w: number;
  h: number;
  status: Status;
}

/** Bars for rows scaled into a width×height box over the trace [start, end]. */
export function minimapBars(rows: Row[], start: number, end: number, width: number, height: number): MinimapBar[] {
  const n = rows.length;
  if (n === 0 || width <= 0 || height <= 0) return [];
  const span = end > start ? end - start : 1e-3;
  const rowH = height / n;
  const h = Math.max(1, Math.min(4, rowH - (rowH > 2 ? 1 : 0)));
  return rows.map((r, i) => {
    const x = ((r.entity.start - start) / span) * width;
    return { x, y: i * rowH, w: Math.max(1, ((r.entity.end - r.entity.start) / span) * width), h, status: r.entity.status };
  });
}

/** Draws the bars; colours come from CSS custom properties of `el`. */
export function drawMinimap(canvas: HTMLCanvasElement, bars: MinimapBar[]): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const dpr = globalThis.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const css = getComputedStyle(canvas);
  const colours: Record<Status, string> = {
    ok: css.getPropertyValue('--ok').trim() || '#1f9d63',
    error: css.getPropertyValue('--error').trim() || '#d97706',
    throttle: css.getPropertyValue('--throttle').trim() || '#8b5cf6',
    fault: css.getPropertyValue('--fault').trim() || '#dc2626',
  };
  for (const status of ['ok', 'error', 'throttle', 'fault'] as const) {
    ctx.fillStyle = colours[status];
    for (const b of bars) if (b.status === status) ctx.fillRect(b.x, b.y, b.w, b.h);
  }
}
