import { describe, expect, it } from 'vitest';
import { serviceGraph } from '../../test/fixtures';
import { buildGraph, formatLatency, formatRate, health, healthClass, nodeKind, quote, ringSegments } from './model';

describe('buildGraph (golden GetServiceGraph)', () => {
  const g = serviceGraph();
  const m = buildGraph(g.Services!, { start: g.StartTime!, end: g.EndTime! });
  const node = (name: string, type: string) => m.nodes.find((n) => n.name === name && n.type === type)!;

  it('makes one node per service and one edge per Edges entry', () => {
    expect(m.nodes).toHaveLength(9);
    expect(m.edges).toHaveLength(8);
    expect(new Set(m.nodes.map((n) => n.id)).size).toBe(9);
    for (const e of m.edges) {
      expect(m.nodes.some((n) => n.id === e.source)).toBe(true);
      expect(m.nodes.some((n) => n.id === e.target)).toBe(true);
    }
  });

  it('classifies node kinds', () => {
    expect(
      Object.fromEntries(m.nodes.map((n) => [`${n.name}|${n.type}`, n.kind])),
    ).toEqual({
      'api|client': 'client',
      'api|AWS::EC2::Instance': 'service',
      'orders|AWS::DynamoDB::Table': 'aws',
      'backend|AWS::ECS::Container': 'service',
      'notify|AWS::Lambda': 'lambda',
      'notify|AWS::Lambda::Function': 'function',
      'SNS|AWS::SNS': 'aws',
      'orders@db.internal|Database::SQL': 'database',
      'quota|remote': 'remote',
    });
    expect(nodeKind(undefined)).toBe('service');
    expect(nodeKind('AWS::Kinesis::Stream', 'active')).toBe('service');
    expect(nodeKind('AWS::ECS::Fargate')).toBe('service');
  });

  it('computes health, rate and latency', () => {
    const api = node('api', 'AWS::EC2::Instance');
    expect(api.health).toEqual({ ok: 80, error: 10, throttle: 0, fault: 10, total: 100 });
    expect(healthClass(api.health)).toBe('fault');
    expect(api.rpm).toBeCloseTo(10); // 100 requests in 10 minutes
    expect(api.avgLatency).toBeCloseTo(0.25);
    expect(api.root).toBe(true);
    const quotaEdge = m.edges.find((e) => e.target === node('quota', 'remote').id)!;
    expect(healthClass(quotaEdge.health)).toBe('throttle');
    expect(quotaEdge.avgLatency).toBeCloseTo(0.001);
    expect(healthClass(node('orders', 'AWS::DynamoDB::Table').health)).toBe('ok');
    expect(healthClass(health(undefined))).toBe('idle');
  });

  it('prepares filter expressions, disambiguating shared names with id()', () => {
    expect(node('api', 'AWS::EC2::Instance').filter).toBe('service(id(name: "api", type: "AWS::EC2::Instance"))');
    expect(node('api', 'client').filter).toBe('service("api") { root = true }');
    const edge = (a: string, b: string) =>
      m.edges.find((e) => e.source.includes(`|${a}|`) && e.target.includes(`|${b}|`) && !e.source.startsWith('client'))!.filter;
    expect(edge('api', 'backend')).toBe('edge(id(name: "api", type: "AWS::EC2::Instance"), "backend")');
    expect(edge('notify', 'notify')).toBe(
      'edge(id(name: "notify", type: "AWS::Lambda"), id(name: "notify", type: "AWS::Lambda::Function"))',
    );
    expect(edge('notify', 'SNS')).toBe('edge(id(name: "notify", type: "AWS::Lambda::Function"), "SNS")');
    expect(quote('a "b" \\c')).toBe('"a \\"b\\" \\\\c"');
  });

  it('drops edges to services missing from the answer', () => {
    const broken = buildGraph([{ ReferenceId: 1, Name: 'a', Edges: [{ ReferenceId: 99 }] }]);
    expect(broken.edges).toHaveLength(0);
    expect(broken.nodes).toHaveLength(1);
  });
});

describe('ring segments and formatting', () => {
  it('splits the ring by outcome', () => {
    const segs = ringSegments({ ok: 80, error: 10, throttle: 5, fault: 5, total: 100 });
    expect(segs.map((s) => s.cls)).toEqual(['ok', 'error', 'throttle', 'fault']);
    expect(segs.reduce((a, s) => a + s.frac, 0)).toBeCloseTo(1);
    expect(segs[1]!.start).toBeCloseTo(0.8);
    expect(ringSegments({ ok: 0, error: 0, throttle: 0, fault: 0, total: 0 })).toEqual([]);
  });
  it('formats latency and rate', () => {
    expect(formatLatency(0.0005)).toBe('500 µs');
    expect(formatLatency(0.0042)).toBe('4.2 ms');
    expect(formatLatency(0.25)).toBe('250 ms');
    expect(formatLatency(3.456)).toBe('3.46 s');
    expect(formatRate(10)).toBe('10.0/min');
    expect(formatRate(25000)).toBe('25.0k/min');
  });
});
