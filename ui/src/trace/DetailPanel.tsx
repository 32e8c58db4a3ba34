// Details of one segment/subsegment: overview, HTTP, AWS, SQL, annotations,
// metadata, exceptions with stacks and the raw document.
import { Fragment, type ComponentChildren } from 'preact';
import { formatLatency } from '../servicemap/model';
import { exceptions, ownDocument, type Entity } from '../waterfall/model';

function Section(props: { title: string; children: ComponentChildren; open?: boolean; testid?: string }) {
  return (
    <details class="section" open={props.open ?? true} data-testid={props.testid}>
      <summary>{props.title}</summary>
      {props.children}
    </details>
  );
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function KV(props: { data: Record<string, unknown> }) {
  const entries = Object.entries(props.data).filter(([, v]) => v !== undefined && v !== null && v !== '');
  if (!entries.length) return <p class="muted">none</p>;
  return (
    <dl class="kv">
      {entries.map(([k, v]) => (
        <Fragment key={k}>
          <dt>{k}</dt>
          <dd class={typeof v === 'object' ? 'mono' : ''}>{show(v)}</dd>
        </Fragment>
      ))}
    </dl>
  );
}

export function DetailPanel(props: { entity: Entity; traceStart: number; onSelect: (id: string) => void }) {
  const e = props.entity;
  const d = e.doc;
  const ex = exceptions(e);
  const http = d.http;
  const flat = (o: object | undefined, prefix: string) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o ?? {})) out[`${prefix}${k}`] = v;
    return out;
  };
  return (
    <aside class="detail-panel" data-testid="detail-panel" data-entity-id={e.id} aria-label={`Details of ${e.name}`}>
      <header>
        <h2>{e.name}</h2>
        <span class={`badge st-${e.status}`} data-testid="detail-status">
          {e.status}
        </span>
      </header>
      <Section title="Overview" testid="detail-overview">
        <KV
          data={{
            kind: e.kind,
            id: e.id,
            service: e.service,
            origin: e.origin,
            namespace: e.namespace,
            start: `${formatLatency(e.start - props.traceStart)} after trace start`,
            duration: formatLatency(e.end - e.start) + (e.inProgress ? ' (in progress)' : ''),
            user: d.user,
            resource_arn: d.resource_arn,
            parent_id: d.parent_id,
            error: d.error,
            throttle: d.throttle,
            fault: d.fault,
          }}
        />
      </Section>
      {http && (
        <Section title="HTTP" testid="detail-http">
          <KV data={{ ...flat(http.request, 'request.'), ...flat(http.response, 'response.') }} />
        </Section>
      )}
      {d.aws && (
        <Section title="AWS" testid="detail-aws">
          <KV data={d.aws} />
        </Section>
      )}
      {d.sql && (
        <Section title="SQL" testid="detail-sql">
          <KV data={{ ...d.sql, sanitized_query: undefined }} />
          {d.sql.sanitized_query && <pre class="code">{d.sql.sanitized_query}</pre>}
        </Section>
      )}
      {d.annotations && Object.keys(d.annotations).length > 0 && (
        <Section title="Annotations" testid="detail-annotations">
          <KV data={d.annotations} />
        </Section>
      )}
      {d.metadata && Object.keys(d.metadata).length > 0 && (
        <Section title="Metadata" testid="detail-metadata">
          <pre class="code">{JSON.stringify(d.metadata, null, 2)}</pre>
        </Section>
      )}
      {(ex.list.length > 0 || ex.ref) && (
        <Section title="Exceptions" testid="detail-exceptions">
          {ex.ref && <p>Cause recorded in exception {ex.ref} elsewhere in the trace.</p>}
          {typeof d.cause === 'object' && d.cause?.working_directory && <p class="muted">working directory {d.cause.working_directory}</p>}
          {ex.list.map((x, i) => (
            <div class="exception" key={x.id ?? i}>
              <div>
                <strong>{x.type ?? 'exception'}</strong>
                {x.remote ? <span class="badge">remote</span> : null}: {x.message}
              </div>
              {x.stack && x.stack.length > 0 && (
                <ol class="stack">
                  {x.stack.map((f, j) => (
                    <li key={j} class="mono">
                      {f.label ?? '?'} <span class="muted">{f.path}{f.line !== undefined ? `:${f.line}` : ''}</span>
                    </li>
                  ))}
                </ol>
              )}
              {x.truncated ? <p class="muted">{x.truncated} frames truncated</p> : null}
            </div>
          ))}
        </Section>
      )}
      {e.children.length > 0 && (
        <Section title={`Children (${e.children.length})`} open={false}>
          <ul class="children">
            {e.children.slice(0, 200).map((c) => (
              <li key={c.id}>
                <button type="button" class="linkish" onClick={() => props.onSelect(c.id)}>
                  {c.name}
                </button>
              </li>
            ))}
          </ul>
        </Section>
      )}
      <Section title="Raw JSON" open={false} testid="detail-raw">
        <pre class="code">{JSON.stringify(ownDocument(e), null, 2)}</pre>
      </Section>
    </aside>
  );
}
