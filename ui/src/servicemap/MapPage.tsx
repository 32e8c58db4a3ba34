// The service map page: GetServiceGraph for a time range and group, updated live
// by graph.delta messages, laid out by dagre in a worker with stable positions.
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { errText, isAbort } from '../api/client';
import type { Group } from '../api/types';
import { getGroups, getServiceGraph } from '../api/xray';
import { Histogram } from '../charts/Histogram';
import { TimeSeries } from '../charts/TimeSeries';
import { ErrorBox, Link, LiveToggle, TimeRangeSelect } from '../components/common';
import { useLive } from '../live/useLive';
import { navigate, tracesUrl, useRoute } from '../router';
import { defaultRange, rangeWindow } from '../timerange';
import { useFiringServices } from '../alerts/useFiring';
import { Graph, type Selection } from './Graph';
import { allPlaced, layoutInput, stabilize, type Point } from './layout';
import { layoutInWorker, prewarmLayoutWorker } from './layoutClient';
import { buildGraph, formatLatency, formatRate, healthClass, type Health, type MapEdge, type MapNode } from './model';

/** Positions survive navigation between pages (per group). */
const positionCache = new Map<string, Record<string, Point>>();

declare global {
  interface Window {
    /** performance.now() when the map was first fully drawn (benchmark hook). */
    __fluoroMapDrawnAt?: number;
  }
}

export function MapPage() {
  const route = useRoute();
  const firing = useFiringServices();
  const range = route.params.get('range') ?? defaultRange;
  const group = route.params.get('group') ?? '';
  const setParam = (k: string, v: string) => {
    const p = new URLSearchParams(route.params);
    if (v) p.set(k, v);
    else p.delete(k);
    const q = p.toString();
    navigate(`/${q ? `?${q}` : ''}`, true);
  };

  const [live, dispatch] = useLive({ topics: ['graph.delta', 'alert'], ...(group ? { group } : {}) });
  const [win, setWin] = useState(() => rangeWindow(range));
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [loadedAt, setLoadedAt] = useState(0);
  const [groups, setGroups] = useState<Group[] | null>(null);
  const [selected, setSelected] = useState<Selection>(null);
  const abort = useRef<AbortController | null>(null);

  const load = async () => {
    abort.current?.abort();
    const ac = new AbortController();
    abort.current = ac;
    const w = rangeWindow(range);
    setLoading(true);
    try {
      const r = await getServiceGraph({ StartTime: w.start, EndTime: w.end, ...(group ? { GroupName: group } : {}) }, { signal: ac.signal });
      performance.mark('fluoro:graph-fetched');
      setWin(w);
      dispatch({ kind: 'resynced', services: r.Services ?? [] });
      setError(null);
      setLoadedAt(Date.now());
    } catch (e) {
      if (!isAbort(e)) {
        setError(e);
        dispatch({ kind: 'resynced' });
      }
    } finally {
      if (abort.current === ac) setLoading(false);
    }
  };

  useEffect(() => {
    prewarmLayoutWorker();
  }, []);
  useEffect(() => {
    void load();
    return () => abort.current?.abort();
  }, [range, group]);
  useEffect(() => {
    if (live.needsResync) void load();
  }, [live.needsResync]);
  // Deltas only add; a periodic refetch slides the window so old traffic ages out.
  useEffect(() => {
    if (!live.live) return;
    const t = setInterval(() => void load(), 60_000);
    return () => clearInterval(t);
  }, [live.live, range, group]);

  useEffect(() => {
    const ac = new AbortController();
    getGroups({ signal: ac.signal })
      .then(setGroups)
      .catch((e: unknown) => {
        if (!isAbort(e)) setGroups([]);
      });
    return () => ac.abort();
  }, []);

  const model = useMemo(() => {
    const end = Math.max(win.end, ...live.services.map((s) => s.EndTime ?? 0));
    return buildGraph(live.services, { start: win.start, end });
  }, [live.services, win]);

  const cacheKey = group || '(default)';
  const [positions, setPositions] = useState<Record<string, Point>>(() => positionCache.get(cacheKey) ?? {});
  const [layoutError, setLayoutError] = useState<string>('');
  const posRef = useRef(positions);
  posRef.current = positions;
  const [relayout, setRelayout] = useState(0);

  useEffect(() => {
    if (model.nodes.length === 0 || allPlaced(model, posRef.current)) return;
    let cancelled = false;
    const input = layoutInput(model);
    layoutInWorker(input)
      .then((fresh) => {
        if (cancelled) return;
        performance.mark('fluoro:layout-done');
        const prev: Record<string, Point> = {};
        for (const n of model.nodes) if (posRef.current[n.id]) prev[n.id] = posRef.current[n.id]!;
        const merged = stabilize(prev, fresh, input.edges);
        const all = { ...posRef.current, ...merged.positions };
        positionCache.set(cacheKey, all);
        setPositions(all);
        setLayoutError('');
      })
      .catch((e: unknown) => {
        if (!cancelled) setLayoutError(errText(e));
      });
    return () => {
      cancelled = true;
    };
  }, [model, relayout, cacheKey]);

  const visible = useMemo(() => {
    const out: Record<string, Point> = {};
    for (const n of model.nodes) if (positions[n.id]) out[n.id] = positions[n.id]!;
    return out;
  }, [model, positions]);

  const onDrawn = () => {
    if (window.__fluoroMapDrawnAt === undefined) {
      requestAnimationFrame(() => {
        window.__fluoroMapDrawnAt ??= performance.now();
      });
    }
  };

  const selNode = selected?.kind === 'node' ? model.nodes.find((n) => n.id === selected.id) : undefined;
  const selEdge = selected?.kind === 'edge' ? model.edges.find((e) => e.id === selected.id) : undefined;
  const groupInfo = groups?.find((g) => g.GroupName === group);

  return (
    <div class="page map-page">
      <div class="toolbar" role="toolbar" aria-label="Service map options">
        <TimeRangeSelect value={range} onChange={(v) => setParam('range', v)} />
        {groups && groups.length > 0 && (
          <label class="field">
            <span>Group</span>
            <select data-testid="group-select" value={group} onChange={(e) => setParam('group', (e.currentTarget as HTMLSelectElement).value)}>
              <option value="">Default (all traces)</option>
              {groups
                .filter((g) => g.GroupName && g.GroupName !== 'Default')
                .map((g) => (
                  <option key={g.GroupName} value={g.GroupName}>
                    {g.GroupName}
                  </option>
                ))}
            </select>
          </label>
        )}
        {groupInfo?.FilterExpression && (
          <code class="group-filter" data-testid="group-filter" title="The group's filter expression">
            {groupInfo.FilterExpression}
          </code>
        )}
        <LiveToggle live={live.live} status={live.status} missed={live.missed} onToggle={() => dispatch({ kind: live.live ? 'pause' : 'resume' })} />
        <button type="button" data-testid="map-refresh" onClick={() => void load()} disabled={loading}>
          Refresh
        </button>
        <button
          type="button"
          data-testid="map-relayout"
          title="Lay the map out again from scratch"
          onClick={() => {
            positionCache.delete(cacheKey);
            posRef.current = {};
            setPositions({});
            setRelayout((x) => x + 1);
          }}
        >
          Re-layout
        </button>
        <span class="muted status-text" data-testid="map-status" aria-live="polite">
          {loading ? 'Loading…' : `${model.nodes.length} nodes, ${model.edges.length} edges`}
          {loadedAt ? ` · updated ${new Date(loadedAt).toLocaleTimeString()}` : ''}
        </span>
      </div>
      <ErrorBox error={error} testid="map-error" />
      {layoutError && <ErrorBox error={{ message: `layout failed: ${layoutError}` }} />}
      <div class="map-main">
        <div class="map-canvas">
          {model.nodes.length === 0 && !loading ? (
            <div class="empty" data-testid="map-empty">
              <p>No traces in this time range.</p>
              <p class="muted">Send segments to UDP 127.0.0.1:2000 (the X-Ray daemon port) or pick a longer range.</p>
            </div>
          ) : (
            <Graph model={model} positions={visible} firing={firing} selected={selected} onSelect={setSelected} fitKey={`${range}|${group}|${relayout}`} onDrawn={onDrawn} />
          )}
          <Legend />
        </div>
        {selNode && <NodePanel node={selNode} range={range} win={win} group={group} onClose={() => setSelected(null)} />}
        {selEdge && (
          <EdgePanel
            edge={selEdge}
            src={model.nodes.find((n) => n.id === selEdge.source)}
            dst={model.nodes.find((n) => n.id === selEdge.target)}
            range={range}
            win={win}
            group={group}
            onClose={() => setSelected(null)}
          />
        )}
      </div>
    </div>
  );
}

function Legend() {
  return (
    <ul class="legend" aria-label="Health colours">
      <li>
        <span class="swatch st-ok" /> OK (2xx/3xx)
      </li>
      <li>
        <span class="swatch st-error" /> Error (4xx)
      </li>
      <li>
        <span class="swatch st-throttle" /> Throttle (429)
      </li>
      <li>
        <span class="swatch st-fault" /> Fault (5xx)
      </li>
    </ul>
  );
}

function pct(n: number, total: number): string {
  return total > 0 ? `${((100 * n) / total).toFixed(n / total < 0.1 && n > 0 ? 1 : 0)}%` : '–';
}

function HealthTable(props: { h: Health }) {
  const { h } = props;
  const rows: [string, keyof Health][] = [
    ['OK', 'ok'],
    ['Error (4xx)', 'error'],
    ['Throttle (429)', 'throttle'],
    ['Fault (5xx)', 'fault'],
  ];
  return (
    <table class="stats-table" data-testid="health-table">
      <tbody>
        {rows.map(([label, k]) => (
          <tr key={k}>
            <th scope="row">
              <span class={`swatch st-${k}`} /> {label}
            </th>
            <td>{h[k]}</td>
            <td>{pct(h[k], h.total)}</td>
            <td class="bar-cell">
              <span class={`bar st-${k}`} style={{ width: h.total ? `${(100 * h[k]) / h.total}%` : '0' }} />
            </td>
          </tr>
        ))}
        <tr>
          <th scope="row">Total</th>
          <td>{h.total}</td>
          <td />
          <td />
        </tr>
      </tbody>
    </table>
  );
}

function Panel(props: { title: string; subtitle: string; onClose: () => void; children: ComponentChildren; health: string }) {
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, [props.title, props.subtitle]);
  return (
    <aside class="side-panel" data-testid="side-panel" data-health={props.health} ref={ref} tabIndex={-1} aria-label={`Details: ${props.title}`}
      onKeyDown={(e: KeyboardEvent) => e.key === 'Escape' && props.onClose()}>
      <header>
        <div>
          <h2>{props.title}</h2>
          <div class="muted">{props.subtitle}</div>
        </div>
        <button type="button" class="icon" aria-label="Close details" data-testid="side-panel-close" onClick={props.onClose}>
          ×
        </button>
      </header>
      {props.children}
    </aside>
  );
}

interface Window_ {
  start: number;
  end: number;
}

function NodePanel(props: { node: MapNode; range: string; win: Window_; group: string; onClose: () => void }) {
  const n = props.node;
  return (
    <Panel title={n.name} subtitle={`${n.type || 'service'}${n.accountId ? ` · account ${n.accountId}` : ''}${n.root ? ' · entry point' : ''}`} health={healthClass(n.health)} onClose={props.onClose}>
      <dl class="kv">
        <dt>Requests</dt>
        <dd>
          {n.health.total} ({formatRate(n.rpm)})
        </dd>
        <dt>Average response time</dt>
        <dd>{formatLatency(n.avgLatency)}</dd>
        {n.names.length > 1 && (
          <>
            <dt>Names</dt>
            <dd>{n.names.join(', ')}</dd>
          </>
        )}
      </dl>
      <HealthTable h={n.health} />
      <h3>Response time distribution</h3>
      <Histogram entries={n.histogram} title={`Response-time histogram of ${n.name}`} />
      {n.kind !== 'client' && <TimeSeries selector={n.filter} start={props.win.start} end={props.win.end} group={props.group} />}
      <TracesLink filter={n.filter} range={props.range} />
    </Panel>
  );
}

function EdgePanel(props: { edge: MapEdge; src: MapNode | undefined; dst: MapNode | undefined; range: string; win: Window_; group: string; onClose: () => void }) {
  const e = props.edge;
  return (
    <Panel
      title={`${props.src?.name ?? '?'} → ${props.dst?.name ?? '?'}`}
      subtitle={`${props.src?.type || 'service'} → ${props.dst?.type || 'service'}${e.edgeType === 'link' ? ' · asynchronous link' : ''}`}
      health={healthClass(e.health)}
      onClose={props.onClose}
    >
      <dl class="kv">
        <dt>Requests</dt>
        <dd>
          {e.health.total} ({formatRate(e.rpm)})
        </dd>
        <dt>Average latency</dt>
        <dd>{formatLatency(e.avgLatency)}</dd>
      </dl>
      <HealthTable h={e.health} />
      <h3>Response time distribution</h3>
      <Histogram entries={e.histogram} title="Response-time histogram of the edge" />
      {e.filter.startsWith('edge(') && <TimeSeries selector={e.filter} start={props.win.start} end={props.win.end} group={props.group} />}
      <TracesLink filter={e.filter} range={props.range} />
    </Panel>
  );
}

function TracesLink(props: { filter: string; range: string }) {
  return (
    <div class="traces-link">
      <Link href={tracesUrl(props.filter, props.range)} testid="traces-link" class="button primary">
        View traces
      </Link>
      <code data-testid="prepared-filter">{props.filter}</code>
    </div>
  );
}
