// Waterfall row model: builds the segment/subsegment tree of one trace from
// BatchGetTraces documents, flattens it into rows (honouring collapsed nodes),
// maps time to x and computes ruler ticks and the visible row window.
// Framework-free; tested with Vitest against golden X-Ray JSON.
import type { SegmentDoc, Trace } from '../api/types';

export type Status = 'ok' | 'error' | 'throttle' | 'fault';
export type EntityKind = 'segment' | 'subsegment' | 'inferred';

/** One segment or subsegment in the tree. */
export interface Entity {
  id: string;
  name: string;
  kind: EntityKind;
  /** Name of the segment (service) the entity belongs to. */
  service: string;
  origin: string;
  namespace: string;
  start: number;
  /** End time; for in-progress entities the trace end. */
  end: number;
  inProgress: boolean;
  status: Status;
  httpStatus: number | undefined;
  method: string;
  url: string;
  doc: SegmentDoc;
  children: Entity[];
  /** Number of entities below this one. */
  descendants: number;
}

/** A visible waterfall row. */
export interface Row {
  entity: Entity;
  depth: number;
  /** True when the entity has children and they are hidden. */
  collapsed: boolean;
  /** Position of the row among all visible rows. */
  index: number;
}

export interface TraceTree {
  traceId: string;
  roots: Entity[];
  byId: Map<string, Entity>;
  start: number;
  end: number;
  /** Total entities (segments + subsegments). */
  size: number;
  /** Documents that could not be parsed, with the reason. */
  problems: string[];
}

/** fault > throttle > error > ok; explicit flags win over the HTTP status (xray.md §6.5). */
export function entityStatus(d: SegmentDoc): Status {
  if (d.fault) return 'fault';
  if (d.throttle) return 'throttle';
  if (d.error) return 'error';
  const s = d.http?.response?.status;
  if (typeof s === 'number') {
    if (s >= 500 && s <= 599) return 'fault';
    if (s === 429) return 'throttle';
    if (s >= 400 && s <= 499) return 'error';
  }
  return 'ok';
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function cmp(a: Entity, b: Entity): number {
  return a.start - b.start || a.end - b.end || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Parses the Document strings of BatchGetTraces traces (all traces are merged into one tree). */
export function docsFromTraces(traces: Trace[]): { docs: SegmentDoc[]; problems: string[] } {
  const docs: SegmentDoc[] = [];
  const problems: string[] = [];
  for (const t of traces) {
    for (const s of t.Segments ?? []) {
      if (!s.Document) {
        problems.push(`segment ${s.Id ?? '?'} has no document`);
        continue;
      }
      try {
        const d: unknown = JSON.parse(s.Document);
        if (d && typeof d === 'object' && !Array.isArray(d)) docs.push(d as SegmentDoc);
        else problems.push(`segment ${s.Id ?? '?'}: document is not an object`);
      } catch (e) {
        problems.push(`segment ${s.Id ?? '?'}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  return { docs, problems };
}

export function buildTreeFromTraces(traces: Trace[]): TraceTree {
  const { docs, problems } = docsFromTraces(traces);
  const tree = buildTree(docs);
  tree.problems.unshift(...problems);
  if (!tree.traceId) tree.traceId = traces[0]?.Id ?? '';
  return tree;
}

/**
 * Builds the tree from segment documents: embedded subsegments nest under their
 * parent; a (possibly inferred) segment or independent subsegment whose parent_id
 * names an entity of the trace nests under it; the rest are roots.
 */
export function buildTree(docs: SegmentDoc[]): TraceTree {
  const byId = new Map<string, Entity>();
  const problems: string[] = [];
  const tops: { e: Entity; parentId: string }[] = [];
  let traceId = '';
  let start = Infinity;
  let maxEnd = -Infinity;

  const make = (d: SegmentDoc, kind: EntityKind, service: string): Entity => {
    const s = num(d.start_time) ?? NaN;
    const e = num(d.end_time);
    const inProgress = d.in_progress === true || e === undefined;
    return {
      id: typeof d.id === 'string' && d.id ? d.id : '',
      name: typeof d.name === 'string' && d.name ? d.name : '(unnamed)',
      kind,
      service,
      origin: typeof d.origin === 'string' ? d.origin : '',
      namespace: typeof d.namespace === 'string' ? d.namespace : '',
      start: s,
      end: e ?? NaN,
      inProgress,
      status: entityStatus(d),
      httpStatus: num(d.http?.response?.status),
      method: d.http?.request?.method ?? '',
      url: d.http?.request?.url ?? '',
      doc: d,
      children: [],
      descendants: 0,
    };
  };

  let anon = 0;
  const register = (e: Entity): boolean => {
    if (!e.id) e.id = `anon-${++anon}`;
    if (byId.has(e.id)) return false; // keep the first of duplicate ids
    byId.set(e.id, e);
    if (Number.isFinite(e.start)) start = Math.min(start, e.start);
    if (Number.isFinite(e.end)) maxEnd = Math.max(maxEnd, e.end);
    return true;
  };

  const walk = (parent: Entity, subs: unknown, service: string, depth: number): void => {
    if (!Array.isArray(subs)) return;
    if (depth > 256) {
      problems.push(`subsegments nested deeper than 256 under ${parent.id}`);
      return;
    }
    for (const raw of subs) {
      if (!raw || typeof raw !== 'object') continue;
      const d = raw as SegmentDoc;
      const e = make(d, 'subsegment', service);
      if (!register(e)) continue;
      parent.children.push(e);
      walk(e, d.subsegments, service, depth + 1);
    }
  };

  for (const d of preferComplete(docs)) {
    if (!traceId && typeof d.trace_id === 'string') traceId = d.trace_id;
    const isSub = d.type === 'subsegment';
    const kind: EntityKind = d.inferred ? 'inferred' : isSub ? 'subsegment' : 'segment';
    const service = isSub ? '' : typeof d.name === 'string' ? d.name : '';
    const e = make(d, kind, service);
    if (!register(e)) continue;
    walk(e, d.subsegments, service || e.name, 0);
    tops.push({ e, parentId: typeof d.parent_id === 'string' ? d.parent_id : '' });
  }

  const roots: Entity[] = [];
  for (const { e, parentId } of tops) {
    const parent = parentId ? byId.get(parentId) : undefined;
    if (parent && parent !== e && !isDescendant(e, parent)) {
      parent.children.push(e);
      if (e.kind === 'subsegment' && !e.service) setService(e, parent.service);
    } else {
      if (e.kind === 'subsegment' && !e.service) setService(e, e.name);
      roots.push(e);
    }
  }

  if (!Number.isFinite(start)) start = 0;
  // In-progress and time-less entities extend to the end of the trace.
  const end = Number.isFinite(maxEnd) ? Math.max(maxEnd, start) : start;
  const fix = (e: Entity): number => {
    if (!Number.isFinite(e.start)) e.start = start;
    if (!Number.isFinite(e.end)) e.end = end;
    if (e.end < e.start) e.end = e.start;
    e.children.sort(cmp);
    let n = 0;
    for (const c of e.children) n += 1 + fix(c);
    e.descendants = n;
    return n;
  };
  let size = 0;
  for (const r of roots) size += 1 + fix(r);
  roots.sort(cmp);
  return { traceId, roots, byId, start, end, size, problems };
}

/** Drops in-progress top-level documents for which a complete version of the same id exists. */
function preferComplete(docs: SegmentDoc[]): SegmentDoc[] {
  const complete = new Set<string>();
  for (const d of docs) if (typeof d.id === 'string' && d.in_progress !== true && num(d.end_time) !== undefined) complete.add(d.id);
  return docs.filter((d) => !(typeof d.id === 'string' && complete.has(d.id) && (d.in_progress === true || num(d.end_time) === undefined)));
}

function setService(e: Entity, service: string): void {
  e.service = service;
  for (const c of e.children) if (c.kind === 'subsegment') setService(c, service);
}

function isDescendant(candidate: Entity, of: Entity): boolean {
  // True when `of` lies inside candidate's subtree (attaching would make a cycle).
  const stack = [...candidate.children];
  while (stack.length) {
    const x = stack.pop()!;
    if (x === of) return true;
    stack.push(...x.children);
  }
  return false;
}

/** Flattens the tree depth-first into visible rows, skipping the children of collapsed entities. */
export function flatten(tree: Pick<TraceTree, 'roots'>, collapsed: ReadonlySet<string>): Row[] {
  const rows: Row[] = [];
  // Iterative to cope with deep traces.
  const stack: { e: Entity; depth: number }[] = [];
  for (let i = tree.roots.length - 1; i >= 0; i--) stack.push({ e: tree.roots[i]!, depth: 0 });
  while (stack.length) {
    const { e, depth } = stack.pop()!;
    const isCollapsed = e.children.length > 0 && collapsed.has(e.id);
    rows.push({ entity: e, depth, collapsed: isCollapsed, index: rows.length });
    if (isCollapsed) continue;
    for (let i = e.children.length - 1; i >= 0; i--) stack.push({ e: e.children[i]!, depth: depth + 1 });
  }
  return rows;
}

/** Returns a new collapsed set with id toggled. */
export function toggle(collapsed: ReadonlySet<string>, id: string): Set<string> {
  const s = new Set(collapsed);
  if (s.has(id)) s.delete(id);
  else s.add(id);
  return s;
}

/** Collapses every entity at the given depth or deeper that has children (depth 0 = roots). */
export function collapseFrom(tree: Pick<TraceTree, 'roots'>, depth: number): Set<string> {
  const s = new Set<string>();
  const stack: { e: Entity; d: number }[] = tree.roots.map((e) => ({ e, d: 0 }));
  while (stack.length) {
    const { e, d } = stack.pop()!;
    if (e.children.length === 0) continue;
    if (d >= depth) s.add(e.id);
    for (const c of e.children) stack.push({ e: c, d: d + 1 });
  }
  return s;
}

/** Linear time→x mapping over [start, end] onto [0, width]. */
export interface TimeScale {
  start: number;
  end: number;
  width: number;
  x(t: number): number;
  /** Pixel width of the interval [a, b], at least minWidth. */
  w(a: number, b: number, minWidth?: number): number;
}

export function timeScale(start: number, end: number, width: number): TimeScale {
  const span = end > start ? end - start : 1e-3;
  const k = width / span;
  return {
    start,
    end,
    width,
    x: (t) => (t - start) * k,
    w: (a, b, minWidth = 1) => Math.max(minWidth, (b - a) * k),
  };
}

/** Ruler ticks for a trace of `duration` seconds: about `target` ticks at a 1-2-5 step. */
export function rulerTicks(duration: number, target = 6): { offset: number; label: string }[] {
  if (!(duration > 0)) return [{ offset: 0, label: '0 ms' }];
  const rough = duration / Math.max(1, target);
  const p = Math.pow(10, Math.floor(Math.log10(rough)));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= rough) ?? 10 * p;
  const ticks: { offset: number; label: string }[] = [];
  for (let i = 0; i * step <= duration * (1 + 1e-9); i++) {
    const t = i * step;
    ticks.push({ offset: t, label: formatOffset(t, step) });
  }
  return ticks;
}

/** Formats an offset in seconds with a precision suited to the tick step. */
export function formatOffset(t: number, step = t): string {
  if (step >= 1) return `${+t.toFixed(step >= 10 ? 0 : 1)} s`;
  if (step >= 0.001) return `${+(t * 1000).toFixed(step >= 0.01 ? 0 : 1)} ms`;
  return `${+(t * 1e6).toFixed(0)} µs`;
}

/** The rows to render for a scrolled viewport: [first, last) with overscan. */
export function visibleWindow(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  total: number,
  overscan = 10,
): { first: number; last: number } {
  if (total <= 0 || rowHeight <= 0) return { first: 0, last: 0 };
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(total, Math.ceil((scrollTop + Math.max(0, viewportHeight)) / rowHeight) + overscan);
  return { first, last: Math.max(first, last) };
}

/** The entity's document without its subsegments (for the raw JSON view). */
export function ownDocument(e: Entity): SegmentDoc {
  const { subsegments, ...rest } = e.doc;
  if (Array.isArray(subsegments)) return { ...rest, subsegments: [`(${subsegments.length} subsegments shown as rows)`] as unknown as SegmentDoc[] };
  return rest;
}

/** Exceptions of an entity's cause (a string cause refers to an exception recorded elsewhere). */
export function exceptions(e: Entity): { ref?: string; list: NonNullable<Exclude<SegmentDoc['cause'], string | undefined>['exceptions']> } {
  const c = e.doc.cause;
  if (typeof c === 'string') return { ref: c, list: [] };
  return { list: Array.isArray(c?.exceptions) ? c.exceptions : [] };
}
