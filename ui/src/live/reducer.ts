// Pure reducer applying live messages to the dashboard's state: trace summaries
// (newest first), the service graph (in GetServiceGraph shape) and alerts.
import type { HistogramEntry, Service, Statistics, TraceSummary } from '../api/types';
import type { Alert, GraphDelta, ServerMessage } from './messages';

export type ConnStatus = 'connecting' | 'open' | 'closed';

export interface LiveState {
  status: ConnStatus;
  /** Live updates are applied only when true (the live/paused toggle). */
  live: boolean;
  /** Highest seq applied on the current connection. */
  lastSeq: number;
  /**
   * Set when the view may have missed data (a (re)connect, a seq gap, resuming
   * after a pause); the page refetches through the REST API and dispatches `resynced`.
   */
  needsResync: boolean;
  /** Messages that arrived while paused. */
  missed: number;
  summaries: TraceSummary[];
  services: Service[];
  alerts: Alert[];
  /** Ids of summaries that arrived live (for highlighting), newest first. */
  fresh: string[];
}

export type LiveAction =
  | { kind: 'connecting' }
  | { kind: 'open' }
  | { kind: 'closed' }
  | { kind: 'message'; msg: ServerMessage }
  | { kind: 'pause' }
  | { kind: 'resume' }
  | { kind: 'resynced'; summaries?: TraceSummary[]; services?: Service[] }
  | { kind: 'dismiss'; alertId: string };

export const maxSummaries = 1000;
export const maxAlerts = 50;

export function initialLiveState(live = true): LiveState {
  return {
    status: 'connecting',
    live,
    lastSeq: 0,
    needsResync: false,
    missed: 0,
    summaries: [],
    services: [],
    alerts: [],
    fresh: [],
  };
}

export function liveReducer(s: LiveState, a: LiveAction): LiveState {
  switch (a.kind) {
    case 'connecting':
      return { ...s, status: 'connecting' };
    case 'open':
      // seq restarts on every connection; whatever happened while disconnected is refetched.
      return { ...s, status: 'open', lastSeq: 0, needsResync: s.live ? true : s.needsResync };
    case 'closed':
      return { ...s, status: 'closed' };
    case 'pause':
      return { ...s, live: false, missed: 0 };
    case 'resume':
      return { ...s, live: true, needsResync: true, missed: 0 };
    case 'resynced':
      return {
        ...s,
        needsResync: false,
        summaries: a.summaries ?? s.summaries,
        services: a.services ?? s.services,
        fresh: a.summaries ? [] : s.fresh,
      };
    case 'dismiss':
      return { ...s, alerts: s.alerts.filter((x) => x.id !== a.alertId) };
    case 'message':
      return applyMessage(s, a.msg);
  }
}

function applyMessage(s: LiveState, m: ServerMessage): LiveState {
  if (m.seq <= s.lastSeq) return s; // duplicate or replay
  const gap = m.seq > s.lastSeq + 1;
  const base: LiveState = { ...s, lastSeq: m.seq, needsResync: s.needsResync || gap };
  if (m.type === 'alert') {
    if (base.alerts.some((x) => x.id === m.data.id)) return base;
    return { ...base, alerts: [m.data, ...base.alerts].slice(0, maxAlerts) };
  }
  if (!s.live) return { ...base, missed: s.missed + 1 };
  if (m.type === 'trace.summary') return { ...base, ...addSummary(base.summaries, base.fresh, m.data) };
  return { ...base, services: applyGraphDelta(base.services, m.data) };
}

/** Inserts or updates a summary (by Id; a lower Revision never replaces a higher one), newest first. */
export function addSummary(
  summaries: TraceSummary[],
  fresh: string[],
  t: TraceSummary,
): { summaries: TraceSummary[]; fresh: string[] } {
  const i = summaries.findIndex((x) => x.Id === t.Id);
  if (i >= 0) {
    const old = summaries[i]!;
    if ((t.Revision ?? 0) < (old.Revision ?? 0)) return { summaries, fresh };
    const next = summaries.slice();
    next[i] = t;
    return { summaries: next, fresh };
  }
  const next = [t, ...summaries];
  // Keep newest first by start time (live summaries can arrive out of order).
  next.sort((a, b) => summaryTime(b) - summaryTime(a));
  return { summaries: next.slice(0, maxSummaries), fresh: [t.Id!, ...fresh.filter((x) => x !== t.Id)].slice(0, 50) };
}

/** Start time of a summary: StartTime, else the epoch in the trace id. */
export function summaryTime(t: TraceSummary): number {
  if (typeof t.StartTime === 'number') return t.StartTime;
  const m = /^1-([0-9a-f]{8})-/i.exec(t.Id ?? '');
  return m ? parseInt(m[1]!, 16) : 0;
}

function key(s: Service): string {
  return `${s.Type ?? ''}|${s.Name ?? ''}|${s.AccountId ?? ''}`;
}

function addHist(a: HistogramEntry[] | undefined, b: HistogramEntry[] | undefined): HistogramEntry[] | undefined {
  if (!b?.length) return a;
  const m = new Map<number, number>();
  for (const e of a ?? []) m.set(e.Value, (m.get(e.Value) ?? 0) + e.Count);
  for (const e of b) m.set(e.Value, (m.get(e.Value) ?? 0) + e.Count);
  return [...m.entries()].sort((x, y) => x[0] - y[0]).map(([Value, Count]) => ({ Value, Count }));
}

export function addStats(a: Statistics | undefined, b: Statistics | undefined): Statistics | undefined {
  if (!b) return a;
  const n = (x: number | undefined, y: number | undefined) => (x ?? 0) + (y ?? 0);
  return {
    OkCount: n(a?.OkCount, b.OkCount),
    ErrorStatistics: {
      ThrottleCount: n(a?.ErrorStatistics?.ThrottleCount, b.ErrorStatistics?.ThrottleCount),
      OtherCount: n(a?.ErrorStatistics?.OtherCount, b.ErrorStatistics?.OtherCount),
      TotalCount: n(a?.ErrorStatistics?.TotalCount, b.ErrorStatistics?.TotalCount),
    },
    FaultStatistics: {
      OtherCount: n(a?.FaultStatistics?.OtherCount, b.FaultStatistics?.OtherCount),
      TotalCount: n(a?.FaultStatistics?.TotalCount, b.FaultStatistics?.TotalCount),
    },
    TotalCount: n(a?.TotalCount, b.TotalCount),
    TotalResponseTime: n(a?.TotalResponseTime, b.TotalResponseTime),
  };
}

function minT(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}
function maxT(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}

/**
 * Adds a graph delta to services (GetServiceGraph shape) and returns the new array;
 * the input is not modified. New nodes get fresh ReferenceIds; delta edges are
 * re-pointed at the ReferenceIds of the accumulated graph.
 */
export function applyGraphDelta(services: Service[], d: GraphDelta): Service[] {
  const out = services.map((s) => ({ ...s, Edges: s.Edges ? s.Edges.map((e) => ({ ...e })) : undefined }));
  const byKey = new Map(out.map((s, i) => [key(s), i] as const));
  let nextRef = out.reduce((m, s) => Math.max(m, s.ReferenceId ?? -1), -1) + 1;
  const refMap = new Map<number, number>(); // delta ReferenceId -> accumulated ReferenceId

  for (const ds of d.Services) {
    const k = key(ds);
    const i = byKey.get(k);
    if (i === undefined) {
      const ref = nextRef++;
      if (ds.ReferenceId !== undefined) refMap.set(ds.ReferenceId, ref);
      byKey.set(k, out.length);
      out.push({ ...ds, ReferenceId: ref, Edges: [] });
    } else {
      const cur = out[i]!;
      if (ds.ReferenceId !== undefined) refMap.set(ds.ReferenceId, cur.ReferenceId ?? i);
      out[i] = {
        ...cur,
        Names: [...new Set([...(cur.Names ?? []), ...(ds.Names ?? [])])],
        Root: (cur.Root ?? false) || (ds.Root ?? false),
        State: cur.State ?? ds.State,
        StartTime: minT(cur.StartTime, ds.StartTime),
        EndTime: maxT(cur.EndTime, ds.EndTime),
        SummaryStatistics: addStats(cur.SummaryStatistics, ds.SummaryStatistics),
        ResponseTimeHistogram: addHist(cur.ResponseTimeHistogram, ds.ResponseTimeHistogram),
        DurationHistogram: addHist(cur.DurationHistogram, ds.DurationHistogram),
      };
    }
  }
  for (const ds of d.Services) {
    const src = out[byKey.get(key(ds))!]!;
    for (const de of ds.Edges ?? []) {
      const target = de.ReferenceId !== undefined ? refMap.get(de.ReferenceId) : undefined;
      if (target === undefined) continue;
      const edges = (src.Edges ??= []);
      const j = edges.findIndex((e) => e.ReferenceId === target);
      if (j < 0) {
        edges.push({ ...de, ReferenceId: target });
      } else {
        const e = edges[j]!;
        edges[j] = {
          ...e,
          StartTime: minT(e.StartTime, de.StartTime),
          EndTime: maxT(e.EndTime, de.EndTime),
          SummaryStatistics: addStats(e.SummaryStatistics, de.SummaryStatistics),
          ResponseTimeHistogram: addHist(e.ResponseTimeHistogram, de.ResponseTimeHistogram),
        };
      }
    }
  }
  return out;
}
