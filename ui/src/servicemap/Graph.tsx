// SVG service map: nodes with health rings, edges with latency/traffic labels,
// pan (drag, arrow keys) and zoom (wheel, +/-), keyboard-selectable nodes.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { bounds, edgePath, type Point } from './layout';
import { formatLatency, formatRate, healthClass, ringSegments, type GraphModel, type MapEdge, type MapNode } from './model';
import s from './Graph.module.css';

export type Selection = { kind: 'node' | 'edge'; id: string } | null;

interface View {
  x: number;
  y: number;
  k: number;
}

const R = 30; // node radius
const RING = 6;

const kindGlyph: Record<MapNode['kind'], string> = {
  client: 'client',
  service: '',
  lambda: 'λ',
  function: 'ƒ',
  aws: '',
  remote: '↗',
  database: 'DB',
};

const shortNames: Record<string, string> = {
  DynamoDB: 'DDB',
  ElasticBeanstalk: 'EB',
  StepFunctions: 'SFN',
  ApiGateway: 'APIGW',
  APIGateway: 'APIGW',
  AppRunner: 'AppR',
  AppSync: 'GQL',
  Kinesis: 'KDS',
  CloudWatch: 'CW',
  SecretsManager: 'SM',
};

function glyph(n: MapNode): string {
  const g = kindGlyph[n.kind];
  if (g) return g;
  // AWS::DynamoDB::Table -> DDB, AWS::EC2::Instance -> EC2
  const parts = n.type.split('::');
  const name = parts[1] ?? parts[0] ?? '';
  return shortNames[name] ?? (name.slice(0, 5) || 'svc');
}

function truncate(t: string, n: number): string {
  return t.length > n ? t.slice(0, n - 1) + '…' : t;
}

export function fitView(size: { width: number; height: number }, vw: number, vh: number, maxK = 1.25): View {
  if (size.width <= 0 || size.height <= 0 || vw <= 0 || vh <= 0) return { x: 0, y: 0, k: 1 };
  const k = Math.max(0.05, Math.min(maxK, vw / size.width, vh / size.height));
  return { k, x: (vw - size.width * k) / 2, y: (vh - size.height * k) / 2 };
}

export interface GraphProps {
  model: GraphModel;
  positions: Record<string, Point>;
  selected?: Selection;
  onSelect?: (sel: Selection) => void;
  /** Changes of this key re-fit the view (e.g. a new group or time range). */
  fitKey?: string;
  testid?: string;
  compact?: boolean;
  onDrawn?: () => void;
  /** Names of services with a firing alert: their nodes get an alert mark. */
  firing?: Set<string>;
}

export function Graph(props: GraphProps) {
  const { model, positions, selected, onSelect } = props;
  const svgRef = useRef<SVGSVGElement>(null);
  const [view, setView] = useState<View>({ x: 0, y: 0, k: 1 });
  const fitted = useRef<string | undefined>(undefined);
  const drag = useRef<{ x: number; y: number; vx: number; vy: number; moved: boolean } | null>(null);
  const size = useMemo(() => bounds(positions), [positions]);
  const placedCount = model.nodes.filter((n) => positions[n.id]).length;

  const fit = () => {
    const el = svgRef.current;
    if (!el) return;
    setView(fitView(size, el.clientWidth, el.clientHeight));
  };

  // Fit during render (not in an effect) the first time nodes are placed, so the
  // first drawn frame already has the fitted zoom and its level of detail: a large
  // map is then laid out and painted once, not twice.
  const fitKey = `${props.fitKey ?? ''}|${placedCount > 0}`;
  let v = view;
  if (placedCount > 0 && fitted.current !== fitKey && svgRef.current && svgRef.current.clientWidth > 0) {
    fitted.current = fitKey;
    v = fitView(size, svgRef.current.clientWidth, svgRef.current.clientHeight);
    setView(v);
  }
  // Positions known at mount time (e.g. from the cache): fit once the svg exists.
  useLayoutEffect(() => {
    if (placedCount > 0 && fitted.current !== fitKey) {
      fitted.current = fitKey;
      fit();
    }
  });

  useEffect(() => {
    if (placedCount === model.nodes.length && model.nodes.length > 0) props.onDrawn?.();
  });

  const zoomAt = (factor: number, cx: number, cy: number) => {
    setView((v) => {
      const k = Math.max(0.05, Math.min(4, v.k * factor));
      const f = k / v.k;
      return { k, x: cx - (cx - v.x) * f, y: cy - (cy - v.y) * f };
    });
  };

  // Keep the centre in place when the canvas is resized (e.g. a side panel opens).
  useEffect(() => {
    const el = svgRef.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    let w = el.clientWidth;
    let h = el.clientHeight;
    const ro = new ResizeObserver(() => {
      const dw = el.clientWidth - w;
      const dh = el.clientHeight - h;
      w = el.clientWidth;
      h = el.clientHeight;
      if (dw || dh) setView((v) => ({ ...v, x: v.x + dw / 2, y: v.y + dh / 2 }));
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const onWheel = (ev: WheelEvent) => {
    ev.preventDefault();
    const rect = svgRef.current!.getBoundingClientRect();
    zoomAt(Math.exp(-ev.deltaY * 0.0015), ev.clientX - rect.left, ev.clientY - rect.top);
  };
  useEffect(() => {
    const el = svgRef.current;
    if (!el) return;
    el.addEventListener('wheel', onWheel, { passive: false });
    return () => el.removeEventListener('wheel', onWheel);
  }, []);

  const onPointerDown = (ev: PointerEvent) => {
    if (ev.button !== 0) return;
    drag.current = { x: ev.clientX, y: ev.clientY, vx: view.x, vy: view.y, moved: false };
  };
  const onPointerMove = (ev: PointerEvent) => {
    const d = drag.current;
    if (!d) return;
    const dx = ev.clientX - d.x;
    const dy = ev.clientY - d.y;
    if (!d.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    if (!d.moved) (ev.currentTarget as Element).setPointerCapture?.(ev.pointerId);
    d.moved = true;
    setView((v) => ({ ...v, x: d.vx + dx, y: d.vy + dy }));
  };
  const dragged = useRef(false);
  const onPointerUp = (ev: PointerEvent) => {
    const d = drag.current;
    drag.current = null;
    dragged.current = d?.moved ?? false;
    if (d && !d.moved && ev.target === svgRef.current) onSelect?.(null);
  };
  // One delegated handler for all nodes and edges (hundreds of per-element
  // listeners cost measurable time on large maps).
  const targetOf = (ev: Event): Selection => {
    const el = (ev.target as Element).closest?.('[data-sel-kind]');
    if (!el) return null;
    return { kind: el.getAttribute('data-sel-kind') as 'node' | 'edge', id: el.getAttribute('data-sel-id') ?? '' };
  };
  const onClick = (ev: MouseEvent) => {
    if (dragged.current) {
      dragged.current = false;
      return;
    }
    const t = targetOf(ev);
    if (t) onSelect?.(t);
  };
  const onKeyDown = (ev: KeyboardEvent) => {
    if (ev.target !== svgRef.current) {
      const t = targetOf(ev);
      if (t && (ev.key === 'Enter' || ev.key === ' ')) {
        ev.preventDefault();
        onSelect?.(t);
      }
      return;
    }
    const el = svgRef.current!;
    const step = 60;
    const k: Record<string, () => void> = {
      '+': () => zoomAt(1.25, el.clientWidth / 2, el.clientHeight / 2),
      '=': () => zoomAt(1.25, el.clientWidth / 2, el.clientHeight / 2),
      '-': () => zoomAt(0.8, el.clientWidth / 2, el.clientHeight / 2),
      '0': fit,
      ArrowLeft: () => setView((v) => ({ ...v, x: v.x + step })),
      ArrowRight: () => setView((v) => ({ ...v, x: v.x - step })),
      ArrowUp: () => setView((v) => ({ ...v, y: v.y + step })),
      ArrowDown: () => setView((v) => ({ ...v, y: v.y - step })),
      Escape: () => onSelect?.(null),
    };
    const f = k[ev.key];
    if (f) {
      ev.preventDefault();
      f();
    }
  };

  const byId = useMemo(() => new Map(model.nodes.map((n) => [n.id, n])), [model]);
  const showLabels = v.k >= 0.55 || model.nodes.length <= 30;
  const showNames = v.k >= 0.3 || model.nodes.length <= 30;
  const selKey = selected ? `${selected.kind}:${selected.id}` : '';

  const edgeLayer = useMemo(() => {
    if (!showNames) {
      // Far zoomed out on a large map: one path per health class instead of an
      // element per edge (edges are too thin to click at this zoom anyway).
      const byClass = new Map<string, string[]>();
      for (const e of model.edges) {
        const a = positions[e.source];
        const b = positions[e.target];
        if (!a || !b) continue;
        const hc = healthClass(e.health);
        (byClass.get(hc) ?? byClass.set(hc, []).get(hc)!).push(edgePath(a, b, R + RING).d);
      }
      return [...byClass.entries()].map(([hc, ds]) => (
        <path key={hc} d={ds.join(' ')} class={`${s.edgeLine} ${s[`edgeBulk_${hc}`] ?? ''}`} stroke-width={1.5} data-testid="map-edges-bulk" data-health={hc} />
      ));
    }
    return model.edges.map((e) => {
      const a = positions[e.source];
      const b = positions[e.target];
      if (!a || !b) return null;
      return (
        <EdgeView
          key={e.id}
          edge={e}
          a={a}
          b={b}
          selected={selKey === `edge:${e.id}`}
          label={showLabels}
          srcName={byId.get(e.source)?.name ?? ''}
          dstName={byId.get(e.target)?.name ?? ''}
          interactive={!!onSelect}
          hit={showNames}
        />
      );
    });
  }, [model, positions, selKey, showLabels, showNames]);
  const nodeLayer = useMemo(
    () =>
      model.nodes.map((n) => {
        const p = positions[n.id];
        if (!p) return null;
        return (
          <NodeView key={n.id} node={n} p={p} alerting={n.kind !== 'client' && (props.firing?.has(n.name) ?? false)} selected={selKey === `node:${n.id}`} label={showLabels} name={showNames || selKey === `node:${n.id}`} compact={props.compact ?? false} interactive={!!onSelect} />
        );
      }),
    [model, positions, selKey, showLabels, showNames],
  );

  const ready = model.nodes.length > 0 && placedCount === model.nodes.length;
  return (
    <div class={s.wrap}>
      <svg
        ref={svgRef}
        class={s.svg}
        tabindex={0}
        role="group"
        aria-label="Service map. Drag or use the arrow keys to pan, the mouse wheel or + and - to zoom, 0 to fit. Tab to the nodes."
        data-testid={props.testid ?? 'map'}
        data-ready={ready ? 'true' : 'false'}
        data-node-count={placedCount}
        data-edge-count={model.edges.length}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerCancel={() => (drag.current = null)}
        onClick={onClick}
        onKeyDown={onKeyDown}
      >
        <defs>
          {(['ok', 'error', 'throttle', 'fault', 'idle'] as const).map((c) => (
            <marker key={c} id={`arrow-${c}`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" class={s[`arrow_${c}`]} />
            </marker>
          ))}
        </defs>
        <g transform={`translate(${v.x},${v.y}) scale(${v.k})`}>
          <g>{edgeLayer}</g>
          <g>{nodeLayer}</g>
        </g>
      </svg>
      {!props.compact && (
        <div class={s.controls} role="toolbar" aria-label="Map zoom">
          <button type="button" data-testid="map-zoom-in" aria-label="Zoom in" onClick={() => zoomAt(1.25, (svgRef.current?.clientWidth ?? 0) / 2, (svgRef.current?.clientHeight ?? 0) / 2)}>
            +
          </button>
          <button type="button" data-testid="map-zoom-out" aria-label="Zoom out" onClick={() => zoomAt(0.8, (svgRef.current?.clientWidth ?? 0) / 2, (svgRef.current?.clientHeight ?? 0) / 2)}>
            −
          </button>
          <button type="button" data-testid="map-fit" aria-label="Fit map to view" onClick={fit}>
            ⤢
          </button>
        </div>
      )}
    </div>
  );
}

function NodeView(props: { node: MapNode; p: Point; alerting: boolean; selected: boolean; label: boolean; name: boolean; compact: boolean; interactive: boolean }) {
  const { node: n, p } = props;
  const hc = healthClass(n.health);
  const C = 2 * Math.PI * R;
  const segs = ringSegments(n.health);
  const title = `${props.alerting ? 'ALERT FIRING — ' : ''}${n.name} (${n.type || 'service'}): ${formatRate(n.rpm)}, avg ${formatLatency(n.avgLatency)}; ok ${n.health.ok}, error ${n.health.error}, throttle ${n.health.throttle}, fault ${n.health.fault}`;
  return (
    <g
      class={`${s.node} ${s[`kind_${n.kind}`] ?? ''} ${props.selected ? s.selected : ''}`}
      transform={`translate(${p.x},${p.y})`}
      tabindex={props.interactive ? 0 : -1}
      role={props.interactive ? 'button' : 'img'}
      aria-label={title}
      aria-pressed={props.interactive ? props.selected : undefined}
      data-testid="map-node"
      data-node-id={n.id}
      data-node-name={n.name}
      data-node-type={n.type}
      data-kind={n.kind}
      data-health={hc}
      data-alert={props.alerting ? 'firing' : undefined}
      data-sel-kind="node"
      data-sel-id={n.id}
    >
      {props.selected && <circle r={R + RING + 5} class={s.halo} />}
      {props.alerting && <circle r={R + RING + 3} class={s.alertRing} data-testid="node-alert" />}
      {segs.length === 0 && <circle r={R} class={s.ringBg} stroke-width={RING} />}
      {segs.map((g) => (
        <circle
          key={g.cls}
          r={R}
          class={s[`ring_${g.cls}`]}
          stroke-width={RING}
          stroke-dasharray={`${Math.max(0.5, g.frac * C - (segs.length > 1 ? 1 : 0))} ${C}`}
          stroke-dashoffset={-g.start * C}
          transform="rotate(-90)"
        />
      ))}
      {n.kind === 'client' ? <rect x={-R + 8} y={-R + 8} width={2 * R - 16} height={2 * R - 16} rx={6} class={s.core} /> : <circle r={R - RING / 2 - 2} class={s.core} />}
      <text class={s.glyph} dy="0.35em">
        {glyph(n)}
      </text>
      {props.name && (
        <text class={s.name} y={R + RING + 14}>
          {truncate(n.name, 24)}
        </text>
      )}
      {props.label && !props.compact && n.kind !== 'client' && (
        <text class={s.stats} y={R + RING + 29}>
          {formatRate(n.rpm)} · {formatLatency(n.avgLatency)}
        </text>
      )}
    </g>
  );
}

function EdgeView(props: {
  edge: MapEdge;
  a: Point;
  b: Point;
  selected: boolean;
  label: boolean;
  srcName: string;
  dstName: string;
  interactive: boolean;
  /** Draw a wide invisible path to make the edge easy to hit (skipped on far zoomed-out large maps). */
  hit: boolean;
}) {
  const { edge: e } = props;
  const hc = healthClass(e.health);
  const { d, mid } = edgePath(props.a, props.b, R + RING);
  const width = Math.min(6, 1 + Math.log10(1 + e.rpm));
  const title = `${props.srcName} → ${props.dstName}: ${formatRate(e.rpm)}, avg ${formatLatency(e.avgLatency)}`;
  return (
    <g
      class={`${s.edge} ${s[`edge_${hc}`]} ${props.selected ? s.selected : ''} ${e.edgeType === 'link' ? s.link : ''}`}
      data-testid="map-edge"
      data-source={e.source}
      data-target={e.target}
      data-source-name={props.srcName}
      data-target-name={props.dstName}
      data-health={hc}
      tabindex={props.interactive ? 0 : -1}
      role={props.interactive ? 'button' : 'img'}
      aria-label={title}
      data-sel-kind="edge"
      data-sel-id={e.id}
    >
      {props.hit && <path d={d} class={s.edgeHit} />}
      <path d={d} class={s.edgeLine} stroke-width={width} marker-end={`url(#arrow-${hc})`} />
      {props.label && (
        <text x={mid.x} y={mid.y - 6} class={s.edgeLabel}>
          {formatLatency(e.avgLatency)} · {formatRate(e.rpm)}
        </text>
      )}
    </g>
  );
}
