// Service-map model: turns GetServiceGraph / GetTraceGraph `Services` into nodes
// and edges with health ratios, rates and latencies (xray.md §4.7, §6).
// Framework-free; tested with Vitest.
import type { HistogramEntry, Service, Statistics } from '../api/types';

export type NodeKind = 'client' | 'service' | 'lambda' | 'function' | 'aws' | 'remote' | 'database';

/** Request counts by outcome; `error` excludes throttles (xray.md §6.5 precedence fault > throttle > error > ok). */
export interface Health {
  ok: number;
  error: number;
  throttle: number;
  fault: number;
  total: number;
}

export type HealthClass = 'ok' | 'error' | 'throttle' | 'fault' | 'idle';

export interface MapNode {
  /** Stable key across refreshes: type, name and account. */
  id: string;
  refId: number;
  name: string;
  names: string[];
  type: string;
  accountId: string;
  kind: NodeKind;
  root: boolean;
  state: string;
  health: Health;
  /** Average response time in seconds (0 without requests). */
  avgLatency: number;
  /** Requests per minute over the graph's window. */
  rpm: number;
  histogram: HistogramEntry[];
  /** A filter expression selecting traces through this node. */
  filter: string;
  startTime: number;
  endTime: number;
}

export interface MapEdge {
  id: string;
  source: string;
  target: string;
  health: Health;
  avgLatency: number;
  rpm: number;
  histogram: HistogramEntry[];
  /** "link" for asynchronous trace links. */
  edgeType: string;
  filter: string;
}

export interface GraphModel {
  nodes: MapNode[];
  edges: MapEdge[];
  startTime: number;
  endTime: number;
}

/** Origins of instrumented compute (the nodes that run code), as opposed to inferred AWS resources. */
const computeTypes = [
  'AWS::EC2::Instance',
  'AWS::ECS::Container',
  'AWS::ECS::EC2',
  'AWS::ECS::Fargate',
  'AWS::EKS::Container',
  'AWS::ElasticBeanstalk::Environment',
  'AWS::AppRunner::Service',
  'AWS::ApiGateway::Stage',
  'AWS::APIGateway::Stage',
  'AWS::AppSync::GraphQLAPI',
  'AWS::StepFunctions::StateMachine',
];

export function nodeKind(type: string | undefined, state?: string): NodeKind {
  const t = type ?? '';
  if (t === 'client') return 'client';
  if (t === 'AWS::Lambda::Function') return 'function';
  if (t === 'AWS::Lambda') return 'lambda';
  if (t === 'remote') return 'remote';
  if (t === 'Database::SQL' || /::RDS|SQL/i.test(t)) return 'database';
  if (t.startsWith('AWS::')) {
    if (state === 'active' || computeTypes.some((c) => c.toLowerCase() === t.toLowerCase())) return 'service';
    return 'aws';
  }
  return 'service';
}

export function nodeKey(name: string, type: string, accountId: string): string {
  return `${type || '-'}|${name}|${accountId || '-'}`;
}

export function health(s: Statistics | undefined): Health {
  const fault = s?.FaultStatistics?.TotalCount ?? 0;
  const throttle = s?.ErrorStatistics?.ThrottleCount ?? 0;
  const errTotal = s?.ErrorStatistics?.TotalCount;
  const error = Math.max(0, errTotal !== undefined ? errTotal - throttle : (s?.ErrorStatistics?.OtherCount ?? 0));
  const ok = s?.OkCount ?? 0;
  const total = Math.max(s?.TotalCount ?? 0, ok + error + throttle + fault);
  return { ok, error, throttle, fault, total };
}

/** The worst outcome present: fault > throttle > error > ok (idle without requests). */
export function healthClass(h: Health): HealthClass {
  if (h.total === 0) return 'idle';
  if (h.fault > 0) return 'fault';
  if (h.throttle > 0) return 'throttle';
  if (h.error > 0) return 'error';
  return 'ok';
}

/** Ring segments for a health ring: fractions in the order ok, error, throttle, fault (zero ones dropped). */
export function ringSegments(h: Health): { cls: Exclude<HealthClass, 'idle'>; start: number; frac: number }[] {
  const out: { cls: Exclude<HealthClass, 'idle'>; start: number; frac: number }[] = [];
  const sum = h.ok + h.error + h.throttle + h.fault;
  if (sum === 0) return out;
  let start = 0;
  for (const cls of ['ok', 'error', 'throttle', 'fault'] as const) {
    const n = h[cls];
    if (n <= 0) continue;
    out.push({ cls, start, frac: n / sum });
    start += n / sum;
  }
  return out;
}

/** Quotes a string as a filter-expression string literal. */
export function quote(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

function nodeRef(n: Pick<MapNode, 'name' | 'type'>, byName: Map<string, number>): string {
  if ((byName.get(n.name) ?? 0) <= 1 || !n.type) return quote(n.name);
  return `id(name: ${quote(n.name)}, type: ${quote(n.type)})`;
}

/** Filter expression for traces through a node (id() when the type is known). */
export function serviceFilter(n: Pick<MapNode, 'name' | 'type' | 'kind'>): string {
  if (n.kind === 'client' || !n.type) return `service(${quote(n.name)})`;
  return `service(id(name: ${quote(n.name)}, type: ${quote(n.type)}))`;
}

/** Filter expression for traces along an edge; names are disambiguated with id() only when needed. */
export function edgeFilter(
  src: Pick<MapNode, 'name' | 'type' | 'kind'>,
  dst: Pick<MapNode, 'name' | 'type' | 'kind'>,
  byName: Map<string, number>,
): string {
  if (src.kind === 'client') return `${serviceFilter(dst)} { root = true }`;
  return `edge(${nodeRef(src, byName)}, ${nodeRef(dst, byName)})`;
}

function avg(s: Statistics | undefined): number {
  const n = s?.TotalCount ?? 0;
  return n > 0 ? (s?.TotalResponseTime ?? 0) / n : 0;
}

/**
 * Builds the map model. `window` is the [start, end] of the query in epoch seconds,
 * used for requests-per-minute when the answer carries no StartTime/EndTime.
 */
export function buildGraph(services: Service[], window?: { start: number; end: number }): GraphModel {
  const start = window?.start ?? Math.min(...services.map((s) => s.StartTime ?? Infinity));
  const end = window?.end ?? Math.max(...services.map((s) => s.EndTime ?? -Infinity));
  const minutes = Number.isFinite(start) && Number.isFinite(end) && end > start ? (end - start) / 60 : 1;

  const byName = new Map<string, number>();
  for (const s of services) byName.set(s.Name ?? '', (byName.get(s.Name ?? '') ?? 0) + 1);

  const byRef = new Map<number, MapNode>();
  const nodes: MapNode[] = [];
  const seen = new Set<string>();
  services.forEach((s, i) => {
    const name = s.Name ?? s.Names?.[0] ?? '(unnamed)';
    const type = s.Type ?? '';
    const accountId = s.AccountId ?? '';
    let id = nodeKey(name, type, accountId);
    // Servers should not repeat a node, but two entries must not share a key.
    if (seen.has(id)) id = `${id}#${s.ReferenceId ?? i}`;
    seen.add(id);
    const kind = nodeKind(type, s.State);
    const h = health(s.SummaryStatistics);
    const n: MapNode = {
      id,
      refId: s.ReferenceId ?? i,
      name,
      names: s.Names?.length ? s.Names : [name],
      type,
      accountId,
      kind,
      root: s.Root ?? false,
      state: s.State ?? '',
      health: h,
      avgLatency: avg(s.SummaryStatistics),
      rpm: h.total / minutes,
      histogram: s.ResponseTimeHistogram ?? [],
      filter: '',
      startTime: s.StartTime ?? 0,
      endTime: s.EndTime ?? 0,
    };
    n.filter = kind === 'client' ? `service(${quote(name)}) { root = true }` : serviceFilter(n);
    byRef.set(n.refId, n);
    nodes.push(n);
  });

  const edges: MapEdge[] = [];
  const edgeIds = new Set<string>();
  services.forEach((s, i) => {
    const src = byRef.get(s.ReferenceId ?? i);
    if (!src) return;
    for (const e of s.Edges ?? []) {
      const dst = e.ReferenceId !== undefined ? byRef.get(e.ReferenceId) : undefined;
      if (!dst) continue; // an edge to a node outside the answer cannot be drawn
      let id = `${src.id}->${dst.id}`;
      if (edgeIds.has(id)) id += `#${edges.length}`;
      edgeIds.add(id);
      const h = health(e.SummaryStatistics);
      edges.push({
        id,
        source: src.id,
        target: dst.id,
        health: h,
        avgLatency: avg(e.SummaryStatistics),
        rpm: h.total / minutes,
        histogram: e.ResponseTimeHistogram ?? [],
        edgeType: e.EdgeType ?? '',
        filter: edgeFilter(src, dst, byName),
      });
    }
  });
  return { nodes, edges, startTime: Number.isFinite(start) ? start : 0, endTime: Number.isFinite(end) ? end : 0 };
}

/** Formats seconds as a short latency label (µs, ms or s). */
export function formatLatency(sec: number): string {
  if (!Number.isFinite(sec) || sec <= 0) return '0 ms';
  if (sec < 0.001) return `${Math.round(sec * 1e6)} µs`;
  if (sec < 1) return `${sec * 1000 < 10 ? (sec * 1000).toFixed(1) : Math.round(sec * 1000)} ms`;
  return `${sec < 10 ? sec.toFixed(2) : sec.toFixed(1)} s`;
}

export function formatRate(rpm: number): string {
  if (rpm === 0) return '0/min';
  if (rpm < 1) return `${rpm.toFixed(2)}/min`;
  if (rpm < 100) return `${rpm.toFixed(1)}/min`;
  if (rpm < 10000) return `${Math.round(rpm)}/min`;
  return `${(rpm / 1000).toFixed(1)}k/min`;
}
