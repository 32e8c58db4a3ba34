// Trace search: filter expression (with inline parse errors from the server),
// time range, sortable results with NextToken paging, live arrivals.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, isAbort } from '../api/client';
import type { TraceSummary } from '../api/types';
import { getTraceSummaries } from '../api/xray';
import { ErrorBox, Link, LiveToggle, TimeRangeSelect } from '../components/common';
import { useLive } from '../live/useLive';
import { summaryTime } from '../live/reducer';
import { navigate, traceUrl, tracesUrl, useRoute } from '../router';
import { formatLatency } from '../servicemap/model';
import { age, defaultRange, rangeWindow } from '../timerange';
import { entryPoint, sortSummaries, summaryStatus, type SortKey } from './sort';

const columns: { key: SortKey; label: string }[] = [
  { key: 'id', label: 'Trace ID' },
  { key: 'entry', label: 'Entry point' },
  { key: 'method', label: 'Method' },
  { key: 'url', label: 'URL' },
  { key: 'status', label: 'Status' },
  { key: 'response', label: 'Response time' },
  { key: 'age', label: 'Age' },
];

export function TracesPage() {
  const route = useRoute();
  const filter = route.params.get('filter') ?? '';
  const range = route.params.get('range') ?? defaultRange;
  const [draft, setDraft] = useState(filter);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(false);
  const [next, setNext] = useState<string | undefined>();
  const [processed, setProcessed] = useState<number | undefined>();
  const [sort, setSort] = useState<{ key: SortKey; asc: boolean }>({ key: 'age', asc: true });
  const [now, setNow] = useState(Date.now());
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const abort = useRef<AbortController | null>(null);
  const win = useRef(rangeWindow(range));
  // An expression the API rejected is not sent to the live hub either.
  const [badFilter, setBadFilter] = useState('');
  const [live, dispatch] = useLive(
    badFilter === filter && filter ? { topics: ['alert'] } : { topics: ['trace.summary', 'alert'], ...(filter ? { filter } : {}) },
  );

  useEffect(() => setDraft(filter), [filter]);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(t);
  }, []);

  const fetchPage = async (token: string | undefined, base: TraceSummary[]) => {
    abort.current?.abort();
    const ac = new AbortController();
    abort.current = ac;
    if (!token) win.current = rangeWindow(range);
    setLoading(true);
    try {
      const r = await getTraceSummaries(
        { StartTime: win.current.start, EndTime: win.current.end, FilterExpression: filter, ...(token ? { NextToken: token } : {}) },
        { signal: ac.signal },
      );
      const got = r.TraceSummaries ?? [];
      const seen = new Set(base.map((t) => t.Id));
      dispatch({ kind: 'resynced', summaries: [...base, ...got.filter((t) => !seen.has(t.Id))] });
      setNext(r.NextToken ?? undefined);
      setProcessed((p) => (token ? (p ?? 0) : 0) + (r.TracesProcessedCount ?? 0));
      setError(null);
    } catch (e) {
      if (isAbort(e)) return;
      dispatch({ kind: 'resynced', summaries: token ? base : [] });
      setNext(undefined);
      const err = e instanceof ApiError ? e : new ApiError('Error', String(e), 0);
      if (err.code === 'InvalidRequestException') setBadFilter(filter);
      setError(err);
    } finally {
      if (abort.current === ac) setLoading(false);
    }
  };

  useEffect(() => {
    void fetchPage(undefined, []);
    return () => abort.current?.abort();
  }, [filter, range]);
  useEffect(() => {
    if (live.needsResync) void fetchPage(undefined, []);
  }, [live.needsResync]);

  // Put the caret where the server says the expression went wrong.
  useEffect(() => {
    const el = inputRef.current;
    if (!el || error?.position === undefined || draft !== filter) return;
    const p = Math.min(error.position, el.value.length);
    el.focus();
    el.setSelectionRange(p, Math.min(el.value.length, p + 1));
  }, [error]);

  const submit = (ev?: Event) => {
    ev?.preventDefault();
    const p = new URLSearchParams(route.params);
    if (draft.trim()) p.set('filter', draft.trim());
    else p.delete('filter');
    const url = `/traces${p.toString() ? `?${p}` : ''}`;
    if (url === location.pathname + location.search) void fetchPage(undefined, []);
    else navigate(url);
  };

  const rows = useMemo(() => sortSummaries(live.summaries, sort.key, sort.asc), [live.summaries, sort]);
  const fresh = useMemo(() => new Set(live.fresh), [live.fresh]);
  const isFilterError = error?.code === 'InvalidRequestException' && filter !== '';

  return (
    <div class="page traces-page">
      <form class="filter-form" onSubmit={submit} role="search">
        <label for="filter-input" class="filter-label">
          Filter expression
        </label>
        <div class="filter-row">
          <textarea
            id="filter-input"
            ref={inputRef}
            data-testid="filter-input"
            class={`filter-input ${isFilterError ? 'invalid' : ''}`}
            rows={1}
            spellcheck={false}
            autocomplete="off"
            placeholder='e.g. service("api") { fault } AND responsetime > 1'
            value={draft}
            aria-invalid={isFilterError}
            aria-describedby={isFilterError ? 'filter-error' : undefined}
            onInput={(e) => setDraft((e.currentTarget as HTMLTextAreaElement).value)}
            onKeyDown={(e: KeyboardEvent) => {
              if (e.key === 'Enter' && !e.shiftKey) submit(e);
            }}
          />
          <button type="submit" class="primary" data-testid="filter-submit" disabled={loading}>
            Search
          </button>
        </div>
        {isFilterError && <FilterError expr={filter} error={error} />}
        <div class="toolbar">
          <TimeRangeSelect
            value={range}
            onChange={(v) => {
              const p = new URLSearchParams(route.params);
              p.set('range', v);
              navigate(`/traces?${p}`, true);
            }}
          />
          <LiveToggle live={live.live} status={live.status} missed={live.missed} onToggle={() => dispatch({ kind: live.live ? 'pause' : 'resume' })} />
          {filter && (
            <Link href={tracesUrl('', range)} testid="filter-clear">
              Clear filter
            </Link>
          )}
          <span class="muted status-text" data-testid="traces-count" aria-live="polite">
            {loading ? 'Loading…' : `${rows.length} traces${processed ? ` (${processed} scanned)` : ''}`}
          </span>
        </div>
      </form>
      {!isFilterError && <ErrorBox error={error} testid="traces-error" />}
      <div class="table-wrap">
        <table class="traces-table" data-testid="trace-table">
          <thead>
            <tr>
              {columns.map((c) => (
                <th key={c.key} scope="col" aria-sort={sort.key === c.key ? (sort.asc ? 'ascending' : 'descending') : 'none'}>
                  <button
                    type="button"
                    class="sort"
                    data-testid={`sort-${c.key}`}
                    onClick={() => setSort((s) => ({ key: c.key, asc: s.key === c.key ? !s.asc : true }))}
                  >
                    {c.label}
                    <span aria-hidden="true">{sort.key === c.key ? (sort.asc ? ' ▲' : ' ▼') : ''}</span>
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => {
              const st = summaryStatus(t);
              return (
                <tr
                  key={t.Id}
                  data-testid="trace-row"
                  data-trace-id={t.Id}
                  data-status={st}
                  class={fresh.has(t.Id ?? '') ? 'fresh' : ''}
                  onClick={(e) => {
                    if (!(e.target as HTMLElement).closest('a')) navigate(traceUrl(t.Id ?? ''));
                  }}
                >
                  <td class="mono">
                    <Link href={traceUrl(t.Id ?? '')} testid="trace-link">
                      {t.Id}
                    </Link>
                  </td>
                  <td>{entryPoint(t)}</td>
                  <td>{t.Http?.HttpMethod ?? ''}</td>
                  <td class="url" title={t.Http?.HttpURL}>
                    {t.Http?.HttpURL ?? ''}
                  </td>
                  <td>
                    <span class={`badge st-${st}`}>{t.Http?.HttpStatus ?? st}</span>
                    {t.IsPartial && <span class="badge partial" title="Some segments are still in progress">partial</span>}
                  </td>
                  <td class="num">{formatLatency(t.ResponseTime ?? t.Duration ?? 0)}</td>
                  <td class="num" title={new Date(summaryTime(t) * 1000).toLocaleString()}>
                    {age(summaryTime(t), now)}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {rows.length === 0 && !loading && !error && (
          <p class="empty" data-testid="traces-empty">
            No traces match in this time range.
          </p>
        )}
      </div>
      {next && (
        <button type="button" class="load-more" data-testid="load-more" disabled={loading} onClick={() => void fetchPage(next, live.summaries)}>
          Load more
        </button>
      )}
    </div>
  );
}

function FilterError(props: { expr: string; error: ApiError }) {
  const pos = props.error.position;
  return (
    <div id="filter-error" class="filter-error" role="alert" data-testid="filter-error" data-position={pos ?? ''}>
      <div>{props.error.message}</div>
      {pos !== undefined && (
        <pre class="caret" aria-label={`at position ${pos}`}>
          {props.expr}
          {'\n'}
          {' '.repeat(Math.min(pos, props.expr.length))}^
        </pre>
      )}
    </div>
  );
}
