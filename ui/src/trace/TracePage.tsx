// Trace detail: waterfall of all segments and subsegments (BatchGetTraces), a
// detail panel for the selected one and the trace's own map (GetTraceGraph).
import { useEffect, useMemo, useState } from 'preact/hooks';
import { errText, isAbort } from '../api/client';
import type { Service } from '../api/types';
import { batchGetTraces, getTraceGraph } from '../api/xray';
import { ErrorBox, Link } from '../components/common';
import { tracesUrl } from '../router';
import { Graph, type Selection } from '../servicemap/Graph';
import { layoutInput, type Layout } from '../servicemap/layout';
import { layoutInWorker } from '../servicemap/layoutClient';
import { buildGraph, formatLatency, quote } from '../servicemap/model';
import { buildTreeFromTraces, type TraceTree } from '../waterfall/model';
import { Waterfall } from '../waterfall/Waterfall';
import { DetailPanel } from './DetailPanel';

export function TracePage(props: { id: string }) {
  const [tree, setTree] = useState<TraceTree | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);
  const [selected, setSelected] = useState<string | undefined>();
  const [services, setServices] = useState<Service[] | null>(null);
  const [graphError, setGraphError] = useState('');

  useEffect(() => {
    const ac = new AbortController();
    setTree(null);
    setError(null);
    setMissing(false);
    batchGetTraces([props.id], { signal: ac.signal })
      .then(({ traces }) => {
        if (!traces.length || !traces.some((t) => t.Segments?.length)) {
          setMissing(true);
          return;
        }
        const t = buildTreeFromTraces(traces);
        setTree(t);
        setSelected(t.roots[0]?.id);
      })
      .catch((e: unknown) => {
        if (!isAbort(e)) setError(e);
      });
    getTraceGraph([props.id], { signal: ac.signal })
      .then(setServices)
      .catch((e: unknown) => {
        if (!isAbort(e)) setGraphError(errText(e));
      });
    return () => ac.abort();
  }, [props.id]);

  const entity = selected && tree ? tree.byId.get(selected) : undefined;
  const root = tree?.roots[0];

  return (
    <div class="page trace-page">
      <header class="trace-header">
        <div>
          <h1 class="mono" data-testid="trace-id">
            {props.id}
          </h1>
          {tree && root && (
            <div class="muted">
              {new Date(tree.start * 1000).toLocaleString()} · duration {formatLatency(tree.end - tree.start)} · {tree.size} segments and subsegments
              {root.method ? ` · ${root.method} ${root.url}` : ''}
            </div>
          )}
        </div>
        {root && (
          <Link href={tracesUrl(`service(${quote(root.service || root.name)})`)} testid="service-traces-link">
            Traces of {root.service || root.name}
          </Link>
        )}
      </header>
      <ErrorBox error={error} testid="trace-error" />
      {missing && (
        <p class="empty" data-testid="trace-missing">
          Trace {props.id} was not found (it may be older than the retention, or not yet stored).
        </p>
      )}
      {tree && tree.problems.length > 0 && (
        <details class="problems">
          <summary>{tree.problems.length} documents could not be shown</summary>
          <ul>
            {tree.problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </details>
      )}
      {!tree && !error && !missing && <p class="muted">Loading…</p>}
      {tree && (
        <div class="trace-main">
          <div class="trace-left">
            <TraceMap services={services} error={graphError} />
            <Waterfall tree={tree} selected={selected} onSelect={setSelected} />
          </div>
          {entity && <DetailPanel entity={entity} traceStart={tree.start} onSelect={setSelected} />}
        </div>
      )}
    </div>
  );
}

function TraceMap(props: { services: Service[] | null; error: string }) {
  const model = useMemo(() => buildGraph(props.services ?? []), [props.services]);
  const [layout, setLayout] = useState<Layout | null>(null);
  const [sel, setSel] = useState<Selection>(null);
  useEffect(() => {
    if (model.nodes.length === 0) return;
    let cancelled = false;
    layoutInWorker(layoutInput(model))
      .then((l) => !cancelled && setLayout(l))
      .catch(() => {});
    return () => {
      cancelled = true;
    };
  }, [model]);
  if (props.error) return <p class="muted">Trace map unavailable: {props.error}</p>;
  if (!props.services || model.nodes.length === 0) return null;
  return (
    <div class="trace-map" data-testid="trace-map-wrap">
      <Graph model={model} positions={layout?.positions ?? {}} selected={sel} onSelect={setSel} testid="trace-map" compact />
    </div>
  );
}
