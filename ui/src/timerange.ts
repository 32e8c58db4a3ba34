// Relative time ranges for the map and trace search.

export interface RangeOption {
  id: string;
  label: string;
  seconds: number;
}

export const ranges: RangeOption[] = [
  { id: '5m', label: 'Last 5 minutes', seconds: 300 },
  { id: '15m', label: 'Last 15 minutes', seconds: 900 },
  { id: '1h', label: 'Last hour', seconds: 3600 },
  { id: '3h', label: 'Last 3 hours', seconds: 3 * 3600 },
  { id: '6h', label: 'Last 6 hours', seconds: 6 * 3600 },
  { id: '24h', label: 'Last 24 hours', seconds: 24 * 3600 },
];

export const defaultRange = '15m';

export function rangeSeconds(id: string | null | undefined): number {
  return (ranges.find((r) => r.id === id) ?? ranges.find((r) => r.id === defaultRange)!).seconds;
}

/** The [start, end] window in epoch seconds for a range id ending now. */
export function rangeWindow(id: string | null | undefined, nowMs = Date.now()): { start: number; end: number } {
  const end = Math.ceil(nowMs / 1000);
  return { start: end - rangeSeconds(id), end };
}

/** "3 s ago", "5 min ago", … */
export function age(epochSec: number, nowMs = Date.now()): string {
  const d = Math.max(0, nowMs / 1000 - epochSec);
  if (d < 60) return `${Math.floor(d)} s ago`;
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
  return `${Math.floor(d / 86400)} d ago`;
}
