// Virtualised waterfall: only the rows in view (plus overscan) are in the DOM, so
// traces with 10,000+ subsegments scroll smoothly. Keyboard: ↑/↓ move, ←/→
// collapse/expand, Home/End jump.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { formatLatency } from '../servicemap/model';
import { flatten, rulerTicks, timeScale, toggle, visibleWindow, type Entity, type TraceTree } from './model';
import { drawMinimap, minimapBars } from './minimap';
import s from './Waterfall.module.css';

export const rowHeight = 24;

export interface WaterfallProps {
  tree: TraceTree;
  selected: string | undefined;
  onSelect: (id: string) => void;
  initialCollapsed?: Set<string>;
}

export function Waterfall(props: WaterfallProps) {
  const { tree } = props;
  const [collapsed, setCollapsed] = useState<Set<string>>(() => props.initialCollapsed ?? new Set());
  const rows = useMemo(() => flatten(tree, collapsed), [tree, collapsed]);
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState({ height: 600, width: 800 });
  const labelWidth = Math.min(420, Math.max(220, viewport.width * 0.34));
  const barsWidth = Math.max(100, viewport.width - labelWidth - 24);
  const scale = useMemo(() => timeScale(tree.start, tree.end, barsWidth), [tree, barsWidth]);
  const ticks = useMemo(() => rulerTicks(tree.end - tree.start, Math.max(2, Math.floor(barsWidth / 110))), [tree, barsWidth]);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setViewport({ height: el.clientHeight, width: el.clientWidth });
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const { first, last } = visibleWindow(scrollTop, viewport.height, rowHeight, rows.length, 12);

  // Minimap: every row as a thin bar, drawn on a canvas; click to jump.
  const minimapHeight = rows.length > 40 ? 56 : 0;
  const canvasRef = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = canvasRef.current;
    if (!c || !minimapHeight) return;
    drawMinimap(c, minimapBars(rows, tree.start, tree.end, barsWidth, minimapHeight));
  }, [rows, tree, barsWidth, minimapHeight]);
  const jump = (ev: MouseEvent) => {
    const el = scroller.current;
    const c = ev.currentTarget as HTMLElement;
    if (!el) return;
    const frac = (ev.clientY - c.getBoundingClientRect().top) / minimapHeight;
    el.scrollTop = Math.max(0, frac * rows.length * rowHeight - el.clientHeight / 2);
  };
  const totalH = rows.length * rowHeight;
  const selIndex = rows.findIndex((r) => r.entity.id === props.selected);

  const scrollToIndex = (i: number) => {
    const el = scroller.current;
    if (!el) return;
    const top = i * rowHeight;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + rowHeight > el.scrollTop + el.clientHeight) el.scrollTop = top + rowHeight - el.clientHeight;
  };

  useEffect(() => {
    if (selIndex >= 0) scrollToIndex(selIndex);
  }, [selIndex]);

  const onKeyDown = (ev: KeyboardEvent) => {
    if (rows.length === 0) return;
    const cur = selIndex < 0 ? 0 : selIndex;
    const row = rows[cur]!;
    const go = (i: number) => props.onSelect(rows[Math.max(0, Math.min(rows.length - 1, i))]!.entity.id);
    const page = Math.max(1, Math.floor(viewport.height / rowHeight) - 1);
    const actions: Record<string, () => void> = {
      ArrowDown: () => go(cur + 1),
      ArrowUp: () => go(cur - 1),
      PageDown: () => go(cur + page),
      PageUp: () => go(cur - page),
      Home: () => go(0),
      End: () => go(rows.length - 1),
      ArrowRight: () => {
        if (row.collapsed) setCollapsed(toggle(collapsed, row.entity.id));
        else if (row.entity.children.length) go(cur + 1);
      },
      ArrowLeft: () => {
        if (row.entity.children.length && !row.collapsed) setCollapsed(toggle(collapsed, row.entity.id));
        else {
          for (let i = cur - 1; i >= 0; i--) if (rows[i]!.depth < row.depth) return go(i);
        }
      },
      Enter: () => {
        if (row.entity.children.length) setCollapsed(toggle(collapsed, row.entity.id));
      },
    };
    const f = actions[ev.key];
    if (f) {
      ev.preventDefault();
      f();
    }
  };

  const visible = [];
  for (let i = first; i < last; i++) {
    const r = rows[i]!;
    visible.push(
      <RowView
        key={r.entity.id}
        e={r.entity}
        depth={r.depth}
        index={i}
        collapsed={r.collapsed}
        selected={r.entity.id === props.selected}
        labelWidth={labelWidth}
        x={scale.x(r.entity.start)}
        w={scale.w(r.entity.start, r.entity.end, 2)}
        barsWidth={barsWidth}
        traceStart={tree.start}
        onToggle={() => setCollapsed(toggle(collapsed, r.entity.id))}
        onSelect={() => props.onSelect(r.entity.id)}
      />,
    );
  }

  return (
    <div class={s.waterfall} data-testid="waterfall" data-rows={rows.length} data-total={tree.size}>
      <div class={s.ruler} data-testid="ruler" style={{ paddingLeft: `${labelWidth}px` }} aria-hidden="true">
        <div class={s.rulerInner} style={{ width: `${barsWidth}px` }}>
          {ticks.map((t) => (
            <span key={t.offset} class={s.tick} style={{ left: `${scale.x(tree.start + t.offset)}px` }}>
              {t.label}
            </span>
          ))}
        </div>
      </div>
      {minimapHeight > 0 && (
        <div class={s.minimap} style={{ paddingLeft: `${labelWidth}px`, height: `${minimapHeight}px` }} aria-hidden="true">
          <div class={s.minimapInner} style={{ width: `${barsWidth}px` }} onClick={jump} data-testid="minimap">
            <canvas ref={canvasRef} class={s.minimapCanvas} />
            <div
              class={s.minimapView}
              style={{
                top: `${(scrollTop / Math.max(1, totalH)) * minimapHeight}px`,
                height: `${Math.max(2, (Math.min(viewport.height, totalH) / Math.max(1, totalH)) * minimapHeight)}px`,
              }}
            />
          </div>
        </div>
      )}
      <div
        ref={scroller}
        class={s.scroller}
        tabIndex={0}
        role="tree"
        aria-label={`Segments of the trace, ${rows.length} rows. Arrow keys move and collapse.`}
        aria-activedescendant={props.selected ? `row-${props.selected}` : undefined}
        onScroll={(e) => setScrollTop((e.currentTarget as HTMLDivElement).scrollTop)}
        onKeyDown={onKeyDown}
      >
        <div class={s.canvas} style={{ height: `${rows.length * rowHeight}px` }}>
          <div class={s.grid} style={{ left: `${labelWidth}px`, width: `${barsWidth}px` }} aria-hidden="true">
            {ticks.map((t) => (
              <span key={t.offset} style={{ left: `${scale.x(tree.start + t.offset)}px` }} />
            ))}
          </div>
          {visible}
        </div>
      </div>
    </div>
  );
}

function RowView(props: {
  e: Entity;
  depth: number;
  index: number;
  collapsed: boolean;
  selected: boolean;
  labelWidth: number;
  x: number;
  w: number;
  barsWidth: number;
  traceStart: number;
  onToggle: () => void;
  onSelect: () => void;
}) {
  const { e } = props;
  const hasKids = e.children.length > 0;
  const dur = e.end - e.start;
  // Duration label: right of the bar, else left of it, else inside it.
  const labelRight = props.x + props.w + 110 < props.barsWidth;
  const labelLeft = !labelRight && props.x > 110;
  return (
    <div
      id={`row-${e.id}`}
      class={`${s.row} ${props.selected ? s.selected : ''} ${s[`st_${e.status}`]} ${s[`kind_${e.kind}`] ?? ''}`}
      style={{ top: `${props.index * rowHeight}px`, height: `${rowHeight}px` }}
      role="treeitem"
      aria-level={props.depth + 1}
      aria-expanded={hasKids ? !props.collapsed : undefined}
      aria-selected={props.selected}
      data-testid="waterfall-row"
      data-entity-id={e.id}
      data-name={e.name}
      data-depth={props.depth}
      data-status={e.status}
      data-kind={e.kind}
      onClick={props.onSelect}
    >
      <div class={s.label} style={{ width: `${props.labelWidth}px`, paddingLeft: `${6 + props.depth * 14}px` }}>
        {hasKids ? (
          <button
            type="button"
            tabIndex={-1}
            class={s.toggle}
            data-testid="row-toggle"
            aria-label={props.collapsed ? `Expand ${e.name}` : `Collapse ${e.name}`}
            onClick={(ev) => {
              ev.stopPropagation();
              props.onToggle();
            }}
          >
            {props.collapsed ? '▸' : '▾'}
          </button>
        ) : (
          <span class={s.toggleSpace} />
        )}
        <span class={s.name} title={`${e.name}${e.kind === 'segment' ? ` (${e.origin || 'segment'})` : ''}`}>
          {e.kind !== 'subsegment' && <span class={s.svcTag}>{e.kind === 'inferred' ? 'inferred' : 'seg'}</span>}
          {e.name}
          {props.collapsed && <span class={s.hidden}> +{e.descendants}</span>}
        </span>
        {e.httpStatus !== undefined && <span class={s.http}>{e.httpStatus}</span>}
      </div>
      <div class={s.track}>
        <div class={`${s.bar} ${e.inProgress ? s.inProgress : ''}`} style={{ left: `${props.x}px`, width: `${props.w}px` }} />
        <span
          class={`${s.dur} ${!labelRight && !labelLeft ? s.durInside : ''}`}
          style={labelRight ? { left: `${props.x + props.w + 4}px` } : labelLeft ? { right: `${props.barsWidth - props.x + 4}px` } : { left: `${props.x + 4}px` }}
        >
          {formatLatency(dur)}
          {e.inProgress ? ' (in progress)' : ''}
        </span>
      </div>
    </div>
  );
}
