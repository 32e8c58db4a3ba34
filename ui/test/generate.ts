// Generated service graphs for layout tests and the 200-node benchmark
// (shared by the Vitest tests and the mock server).
import type { GetServiceGraphResult, Service, Statistics } from '../src/api/types';

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function stats(r: () => number, total: number): Statistics {
  const fault = r() < 0.15 ? Math.floor(total * r() * 0.2) : 0;
  const throttle = r() < 0.1 ? Math.floor(total * r() * 0.1) : 0;
  const error = r() < 0.2 ? Math.floor(total * r() * 0.1) : 0;
  const ok = total - fault - throttle - error;
  return {
    OkCount: ok,
    ErrorStatistics: { ThrottleCount: throttle, OtherCount: error, TotalCount: throttle + error },
    FaultStatistics: { OtherCount: fault, TotalCount: fault },
    TotalCount: total,
    TotalResponseTime: total * (0.005 + r() * 0.3),
  };
}

const types = ['AWS::EC2::Instance', 'AWS::ECS::Container', 'AWS::Lambda::Function', 'AWS::DynamoDB::Table', 'remote', 'AWS::SNS'];

/**
 * A layered DAG of `nodes` services (node 0 is a client) with exactly `edges`
 * distinct edges, each from a lower to a higher layer.
 */
export function generateGraph(nodes: number, edges: number, seed = 1, start = 1700000000, end = 1700000600): GetServiceGraphResult {
  const r = rng(seed);
  const layers = Math.max(2, Math.round(Math.sqrt(nodes) / 1.5));
  const layerOf = (i: number) => (i === 0 ? 0 : 1 + Math.floor(((i - 1) * (layers - 1)) / Math.max(1, nodes - 1)));
  const services: Service[] = [];
  for (let i = 0; i < nodes; i++) {
    const type = i === 0 ? 'client' : types[i % types.length]!;
    services.push({
      ReferenceId: i,
      Name: i === 0 ? 'svc-1' : `svc-${i}`,
      Names: [i === 0 ? 'svc-1' : `svc-${i}`],
      Type: type,
      State: type.startsWith('AWS::DynamoDB') || type === 'remote' || type === 'AWS::SNS' || type === 'client' ? 'unknown' : 'active',
      AccountId: '123456789012',
      StartTime: start,
      EndTime: end,
      Root: i === 1,
      SummaryStatistics: stats(r, 10 + Math.floor(r() * 1000)),
      ResponseTimeHistogram: [
        { Value: 0.01, Count: 1 + Math.floor(r() * 50) },
        { Value: 0.1, Count: 1 + Math.floor(r() * 50) },
        { Value: 0.5, Count: Math.floor(r() * 10) },
      ],
      Edges: [],
    });
  }
  const seen = new Set<string>();
  const add = (a: number, b: number): boolean => {
    const k = `${a}>${b}`;
    if (a === b || seen.has(k) || layerOf(a) >= layerOf(b)) return false;
    seen.add(k);
    services[a]!.Edges!.push({ ReferenceId: b, StartTime: start, EndTime: end, SummaryStatistics: stats(r, 10 + Math.floor(r() * 500)) });
    return true;
  };
  add(0, 1);
  // Mostly calls to the next layer (as in layered service architectures), some
  // skipping one layer and a few long ones.
  const byLayer: number[][] = [];
  for (let i = 1; i < nodes; i++) (byLayer[layerOf(i)] ??= []).push(i);
  const pickCaller = (target: number): number => {
    const l = layerOf(target);
    const x = r();
    const back = x < 0.75 ? 1 : x < 0.95 ? 2 : 1 + Math.floor(r() * (l - 1));
    const from = byLayer[Math.max(1, l - back)] ?? byLayer[1]!;
    return from[Math.floor(r() * from.length)]!;
  };
  // Every non-client node gets at least one caller so the graph is connected.
  for (let i = 2; i < nodes && seen.size < edges; i++) if (layerOf(i) > 1) add(pickCaller(i), i);
  for (let guard = 0; seen.size < edges && guard < edges * 100; guard++) {
    const target = 1 + Math.floor(r() * (nodes - 1));
    if (layerOf(target) > 1) add(pickCaller(target), target);
  }
  return { StartTime: start, EndTime: end, Services: services };
}
