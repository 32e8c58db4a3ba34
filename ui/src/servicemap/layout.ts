// Map layout adapter: runs dagre's layered layout left to right (in a Web Worker
// in the browser, directly in tests) and keeps the positions of nodes that were
// already on screen so that refreshes do not reshuffle the map.
// Framework-free; the dagre module is passed in so the adapter stays testable.
import { layered } from './layered';
import type { GraphModel } from './model';

export interface Point {
  x: number;
  y: number;
}

export interface LayoutInput {
  nodes: { id: string; width: number; height: number }[];
  edges: { source: string; target: string }[];
}

/** Node centres (dagre convention) and the bounding size. */
export interface Layout {
  positions: Record<string, Point>;
  width: number;
  height: number;
}

export const nodeSize = { width: 120, height: 120 };

export const layoutOptions = { rankdir: 'LR' as const, nodesep: 36, ranksep: 110, marginx: 40, marginy: 40 };

/** The part of @dagrejs/dagre the adapter uses. */
export interface DagreLike {
  graphlib: { Graph: new (opts?: { multigraph?: boolean; compound?: boolean; directed?: boolean }) => DagreGraph };
  layout: (g: DagreGraph) => unknown;
}

interface DagreGraph {
  setGraph(label: object): unknown;
  setDefaultEdgeLabel(fn: () => object): unknown;
  setNode(id: string, label: object): unknown;
  setEdge(v: string, w: string, label?: object): unknown;
  node(id: string): { x?: number; y?: number; width: number; height: number };
  graph(): { width?: number; height?: number };
}

export function layoutInput(model: GraphModel): LayoutInput {
  return {
    nodes: model.nodes.map((n) => ({ id: n.id, width: nodeSize.width, height: nodeSize.height })),
    edges: model.edges.filter((e) => e.source !== e.target).map((e) => ({ source: e.source, target: e.target })),
  };
}

/**
 * Above this many nodes computeLayout uses the fast layered layout instead of
 * dagre (whose ranking takes ~0.7 s at 60 nodes and 5 s at 200 here).
 */
export const dagreMaxNodes = 40;

/** Lays the input out left to right: dagre for small maps, `layered` for large ones. */
export function computeLayout(input: LayoutInput, dagre: DagreLike): Layout {
  if (input.nodes.length > dagreMaxNodes) return layered(input, layoutOptions);
  return dagreLayout(input, dagre);
}

/** Runs dagre on the input (left-to-right ranks). */
export function dagreLayout(input: LayoutInput, dagre: DagreLike): Layout {
  const g = new dagre.graphlib.Graph({ multigraph: false, directed: true });
  g.setGraph({ ...layoutOptions });
  g.setDefaultEdgeLabel(() => ({}));
  // Sorted so that the same graph always gets the same layout, whatever the server's order.
  const nodes = [...input.nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const n of nodes) g.setNode(n.id, { width: n.width, height: n.height });
  const ids = new Set(nodes.map((n) => n.id));
  const edges = [...input.edges].sort((a, b) => (a.source + '\u0000' + a.target < b.source + '\u0000' + b.target ? -1 : 1));
  for (const e of edges) {
    if (ids.has(e.source) && ids.has(e.target) && e.source !== e.target) g.setEdge(e.source, e.target, { minlen: 1, weight: 1 });
  }
  dagre.layout(g);
  const positions: Record<string, Point> = {};
  for (const n of nodes) {
    const l = g.node(n.id);
    positions[n.id] = { x: l.x ?? 0, y: l.y ?? 0 };
  }
  const gl = g.graph();
  return { positions, width: gl.width ?? 0, height: gl.height ?? 0 };
}

/**
 * Merges a fresh layout with the positions already on screen: known nodes keep
 * their place; a new node is placed relative to a known neighbour (keeping the
 * offset dagre gave them), or shifted like the known nodes on average, and then
 * moved down until it overlaps no other node. Returns the merged layout.
 */
export function stabilize(
  previous: Record<string, Point>,
  fresh: Layout,
  edges: { source: string; target: string }[],
  size: { width: number; height: number } = nodeSize,
): Layout {
  const ids = Object.keys(fresh.positions);
  const known = ids.filter((id) => previous[id] !== undefined);
  if (known.length === 0) return fresh;

  let dx = 0;
  let dy = 0;
  for (const id of known) {
    dx += previous[id]!.x - fresh.positions[id]!.x;
    dy += previous[id]!.y - fresh.positions[id]!.y;
  }
  dx /= known.length;
  dy /= known.length;

  const neighbours = new Map<string, string[]>();
  for (const e of edges) {
    (neighbours.get(e.source) ?? neighbours.set(e.source, []).get(e.source)!).push(e.target);
    (neighbours.get(e.target) ?? neighbours.set(e.target, []).get(e.target)!).push(e.source);
  }

  const out: Record<string, Point> = {};
  for (const id of known) out[id] = { ...previous[id]! };
  const placed: Point[] = known.map((id) => out[id]!);

  // New nodes in left-to-right, top-to-bottom order of the fresh layout, so that
  // a chain of new nodes anchors on nodes placed just before it.
  const fresh_ = ids
    .filter((id) => previous[id] === undefined)
    .sort((a, b) => fresh.positions[a]!.x - fresh.positions[b]!.x || fresh.positions[a]!.y - fresh.positions[b]!.y);
  const gapX = size.width + 8;
  const gapY = size.height + 8;
  for (const id of fresh_) {
    const f = fresh.positions[id]!;
    const anchor = (neighbours.get(id) ?? []).find((n) => out[n] !== undefined);
    let p: Point = anchor
      ? { x: out[anchor]!.x + (f.x - fresh.positions[anchor]!.x), y: out[anchor]!.y + (f.y - fresh.positions[anchor]!.y) }
      : { x: f.x + dx, y: f.y + dy };
    for (let guard = 0; guard < 10000 && placed.some((q) => Math.abs(q.x - p.x) < gapX && Math.abs(q.y - p.y) < gapY); guard++) {
      p = { x: p.x, y: p.y + gapY / 2 };
    }
    out[id] = p;
    placed.push(p);
  }
  return { positions: out, ...bounds(out, size) };
}

/** Bounding width/height of positions (node centres), with the layout margins. */
export function bounds(positions: Record<string, Point>, size: { width: number; height: number } = nodeSize): { width: number; height: number } {
  let maxX = 0;
  let maxY = 0;
  for (const p of Object.values(positions)) {
    maxX = Math.max(maxX, p.x + size.width / 2);
    maxY = Math.max(maxY, p.y + size.height / 2);
  }
  return { width: maxX + layoutOptions.marginx, height: maxY + layoutOptions.marginy };
}

/** True when every node of the model already has a position (no layout run needed). */
export function allPlaced(model: GraphModel, positions: Record<string, Point>): boolean {
  return model.nodes.every((n) => positions[n.id] !== undefined);
}

/** Cubic Bézier path from the right side of a to the left side of b (or a loop-back for right-to-left edges). */
export function edgePath(a: Point, b: Point, r: number): { d: string; mid: Point } {
  if (b.x - a.x > 2 * r) {
    const x1 = a.x + r;
    const x2 = b.x - r;
    const c = (x2 - x1) / 2;
    return { d: `M${x1},${a.y} C${x1 + c},${a.y} ${x2 - c},${b.y} ${x2},${b.y}`, mid: { x: (x1 + x2) / 2, y: (a.y + b.y) / 2 } };
  }
  // Backward or vertical edge: leave and enter from below, bowing under both nodes.
  const y1 = a.y + r;
  const y2 = b.y + r;
  const bow = Math.max(y1, y2) + 60;
  return { d: `M${a.x},${y1} C${a.x},${bow} ${b.x},${bow} ${b.x},${y2}`, mid: { x: (a.x + b.x) / 2, y: bow - 15 } };
}
