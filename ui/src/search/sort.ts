// Sorting of trace summaries for the result table. Framework-free.
import type { TraceSummary } from '../api/types';
import { summaryTime } from '../live/reducer';

export type SortKey = 'id' | 'entry' | 'method' | 'url' | 'status' | 'response' | 'age';

export function entryPoint(t: TraceSummary): string {
  return t.EntryPoint?.Name ?? t.ServiceIds?.[0]?.Name ?? '';
}

function value(t: TraceSummary, k: SortKey): string | number {
  switch (k) {
    case 'id':
      return t.Id ?? '';
    case 'entry':
      return entryPoint(t);
    case 'method':
      return t.Http?.HttpMethod ?? '';
    case 'url':
      return t.Http?.HttpURL ?? '';
    case 'status':
      return t.Http?.HttpStatus ?? -1;
    case 'response':
      return t.ResponseTime ?? t.Duration ?? -1;
    case 'age':
      // Newest first is "youngest": sort by start time descending for ascending age.
      return -summaryTime(t);
  }
}

/** Returns a sorted copy; ties keep the input order. */
export function sortSummaries(list: TraceSummary[], key: SortKey, asc: boolean): TraceSummary[] {
  const dir = asc ? 1 : -1;
  return list
    .map((t, i) => ({ t, i, v: value(t, key) }))
    .sort((a, b) => {
      const c = typeof a.v === 'number' && typeof b.v === 'number' ? a.v - b.v : String(a.v).localeCompare(String(b.v));
      return c !== 0 ? c * dir : a.i - b.i;
    })
    .map((x) => x.t);
}

export function summaryStatus(t: TraceSummary): 'ok' | 'error' | 'throttle' | 'fault' {
  if (t.HasFault) return 'fault';
  if (t.HasThrottle) return 'throttle';
  if (t.HasError) return 'error';
  return 'ok';
}
