import * as dagre from '@dagrejs/dagre';
import { describe, expect, it } from 'vitest';
import { serviceGraph } from '../../test/fixtures';
import { generateGraph } from '../../test/generate';
import { allPlaced, computeLayout, edgePath, layoutInput, nodeSize, stabilize, type DagreLike, type Layout } from './layout';
import { buildGraph } from './model';

const d = dagre as unknown as DagreLike;

function overlaps(l: Layout): number {
  const ps = Object.values(l.positions);
  let n = 0;
  for (let i = 0; i < ps.length; i++)
    for (let j = i + 1; j < ps.length; j++)
      if (Math.abs(ps[i]!.x - ps[j]!.x) < nodeSize.width && Math.abs(ps[i]!.y - ps[j]!.y) < nodeSize.height) n++;
  return n;
}

describe('computeLayout', () => {
  const g = serviceGraph();
  const model = buildGraph(g.Services!);
  const input = layoutInput(model);

  it('draws edges left to right without overlapping nodes', () => {
    const l = computeLayout(input, d);
    expect(Object.keys(l.positions)).toHaveLength(9);
    for (const e of input.edges) expect(l.positions[e.target]!.x).toBeGreaterThan(l.positions[e.source]!.x);
    expect(overlaps(l)).toBe(0);
    expect(l.width).toBeGreaterThan(0);
    expect(allPlaced(model, l.positions)).toBe(true);
  });

  it('is independent of the order the server lists services in', () => {
    const a = computeLayout(input, d);
    const b = computeLayout({ nodes: [...input.nodes].reverse(), edges: [...input.edges].reverse() }, d);
    expect(b.positions).toEqual(a.positions);
  });

  it('lays out 200 nodes and 400 edges', () => {
    const big = buildGraph(generateGraph(200, 400, 7).Services!);
    expect(big.nodes).toHaveLength(200);
    expect(big.edges).toHaveLength(400);
    const l = computeLayout(layoutInput(big), d);
    expect(Object.keys(l.positions)).toHaveLength(200);
    expect(overlaps(l)).toBe(0);
  });
});

describe('stabilize', () => {
  const g = serviceGraph();
  const services = g.Services!;
  const small = buildGraph(services.slice(0, 4));
  const full = buildGraph(services);

  it('keeps known nodes where they were and places new ones without overlap', () => {
    const before = computeLayout(layoutInput(small), d);
    // The user's view was panned/dragged: positions differ from what dagre would say.
    const shifted = Object.fromEntries(Object.entries(before.positions).map(([k, p]) => [k, { x: p.x + 500, y: p.y + 70 }]));
    const fresh = computeLayout(layoutInput(full), d);
    const merged = stabilize(shifted, fresh, layoutInput(full).edges);
    for (const [k, p] of Object.entries(shifted)) expect(merged.positions[k]).toEqual(p);
    expect(Object.keys(merged.positions)).toHaveLength(9);
    expect(overlaps(merged)).toBe(0);
    // Relative order along an edge from a known node to a new one is kept.
    const apiId = full.nodes.find((n) => n.name === 'api' && n.kind === 'service')!.id;
    const quotaId = full.nodes.find((n) => n.name === 'quota')!.id;
    expect(merged.positions[quotaId]!.x).toBeGreaterThan(merged.positions[apiId]!.x);
  });

  it('returns the fresh layout when nothing was known', () => {
    const fresh = computeLayout(layoutInput(full), d);
    expect(stabilize({}, fresh, [])).toBe(fresh);
  });
});

describe('edgePath', () => {
  it('runs forward edges between node sides and bows backward ones below', () => {
    const f = edgePath({ x: 0, y: 0 }, { x: 300, y: 100 }, 30);
    expect(f.d.startsWith('M30,0 C')).toBe(true);
    expect(f.d.endsWith('270,100')).toBe(true);
    const b = edgePath({ x: 300, y: 0 }, { x: 0, y: 0 }, 30);
    expect(b.mid.y).toBeGreaterThan(30);
  });
});

describe('layered (large maps)', () => {
  it('ranks edges left to right, breaks cycles and never overlaps nodes', async () => {
    const { layered } = await import('./layered');
    const { layoutOptions } = await import('./layout');
    const input = {
      nodes: ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, width: 120, height: 120 })),
      edges: [
        { source: 'a', target: 'b' },
        { source: 'b', target: 'c' },
        { source: 'c', target: 'b' }, // cycle
        { source: 'a', target: 'd' },
        { source: 'd', target: 'c' },
        { source: 'a', target: 'e' },
        { source: 'e', target: 'e' }, // self loop
      ],
    };
    const l = layered(input, layoutOptions);
    expect(Object.keys(l.positions).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(l.positions['b']!.x).toBeGreaterThan(l.positions['a']!.x);
    expect(l.positions['c']!.x).toBeGreaterThan(l.positions['b']!.x);
    expect(overlaps(l)).toBe(0);
    expect(layered({ nodes: [], edges: [] }, layoutOptions).positions).toEqual({});
  });
  it('is used above dagreMaxNodes and is deterministic', async () => {
    const { dagreMaxNodes } = await import('./layout');
    const big = buildGraph(generateGraph(dagreMaxNodes + 20, 2 * dagreMaxNodes, 3).Services!);
    const input = layoutInput(big);
    const a = computeLayout(input, d);
    const b = computeLayout({ nodes: [...input.nodes].reverse(), edges: [...input.edges].reverse() }, d);
    expect(b.positions).toEqual(a.positions);
    for (const e of input.edges) expect(a.positions[e.target]!.x).toBeGreaterThan(a.positions[e.source]!.x);
  });
});
