// The alerts page: firing alerts (live over the websocket), the rules with
// their status and an editor, the history of state changes and every
// notification delivery attempt.
import { useEffect, useState } from 'preact/hooks';
import { isAbort } from '../api/client';
import { ErrorBox, Link } from '../components/common';
import { useLive } from '../live/useLive';
import { navigate, traceUrl, tracesUrl, useRoute } from '../router';
import { deleteRule, deliveries, history, listReceivers, listRules, type AlertEvent, type Delivery, type ReceiverInfo, type Rule, type RuleStatus } from './api';
import s from './Alerts.module.css';
import { RuleEditor } from './RuleEditor';
import { ago, applyLiveAlert, describeCondition, firing, isEngineAlert, newRule, sortRules } from './model';

type Tab = 'rules' | 'history' | 'deliveries';

function StateBadge(props: { state: string }) {
  const cls = props.state === 'firing' ? s.firing : props.state === 'pending' ? s.pending : props.state === 'resolved' ? s.resolved : '';
  return (
    <span class={`${s.state} ${cls}`} data-testid="alert-state" data-state={props.state}>
      {props.state}
    </span>
  );
}

function Sev(props: { sev?: string }) {
  const v = props.sev ?? 'warning';
  return <span class={`${s.sev} ${s[`sev-${v}`] ?? ''}`}>{v}</span>;
}

function ruleFilter(r: Rule): string {
  if (r.group) return `group.name = "${r.group.replace(/["\\]/g, '\\$&')}"`;
  return r.filter ?? '';
}

function Samples(props: { ids?: string[] }) {
  if (!props.ids?.length) return null;
  return (
    <div class={s.samples}>
      {props.ids.slice(0, 10).map((id) => (
        <Link key={id} href={traceUrl(id)} testid="sample-trace">
          {id}
        </Link>
      ))}
      {props.ids.length > 10 && <span class={s.muted}>+{props.ids.length - 10}</span>}
    </div>
  );
}

function FiringCards(props: { list: RuleStatus[]; now: number; onSelect: (id: string) => void }) {
  const active = props.list.filter((r) => r.status.state === 'firing' || r.status.state === 'pending');
  if (!active.length)
    return (
      <p class="empty" data-testid="no-firing">
        No alert is firing.
      </p>
    );
  return (
    <div class={s.cards} data-testid="firing-alerts">
      {active.map((r) => (
        <div key={r.rule.id} class={`${s.card} ${r.status.state === 'pending' ? s.pendingCard : ''}`} data-testid="firing-alert" data-rule={r.rule.id}>
          <div>
            <StateBadge state={r.status.state} /> <Sev sev={r.rule.severity} />{' '}
            <button type="button" class="linkish" onClick={() => props.onSelect(r.rule.id)}>
              <strong>{r.rule.name}</strong>
            </button>
          </div>
          <div>{r.status.summary ?? describeCondition(r.rule)}</div>
          <div class={s.muted}>
            {r.status.state === 'firing' ? `firing since ${ago(r.status.fired_at, props.now)}` : `pending since ${ago(r.status.active_at, props.now)}`}
            {r.status.root_cause_service ? ` · root cause ${r.status.root_cause_service.name}` : ''}
            {r.status.muted ? ' · muted' : ''}
          </div>
          <Samples ids={r.status.sample_trace_ids} />
          <div>
            <Link href={tracesUrl(ruleFilter(r.rule), '1h')}>Matching traces</Link>
          </div>
        </div>
      ))}
    </div>
  );
}

function RulesTable(props: { list: RuleStatus[]; selected: string; now: number; onSelect: (id: string) => void }) {
  if (!props.list.length)
    return (
      <p class="empty" data-testid="no-rules">
        No rules yet. Create one, or load a rules file with --alert-rules-file.
      </p>
    );
  return (
    <div class="table-wrap">
      <table class={s.table} data-testid="rule-list">
        <thead>
          <tr>
            <th scope="col">State</th>
            <th scope="col">Rule</th>
            <th scope="col">Condition</th>
            <th scope="col">Severity</th>
            <th scope="col">Last change</th>
          </tr>
        </thead>
        <tbody>
          {props.list.map((r) => (
            <tr key={r.rule.id} class={r.rule.id === props.selected ? s.selected : ''} data-testid="rule-row" data-rule={r.rule.id}>
              <td>
                <StateBadge state={r.rule.disabled ? 'disabled' : r.status.state} />
              </td>
              <td>
                <button type="button" class="linkish" onClick={() => props.onSelect(r.rule.id)}>
                  {r.rule.name}
                </button>
                <div class={s.muted}>
                  {r.rule.id}
                  {r.rule.source === 'file' ? ' · rules file' : ''}
                </div>
                {r.status.error && <div class={s.fieldError}>{r.status.error}</div>}
              </td>
              <td>{describeCondition(r.rule)}</td>
              <td>
                <Sev sev={r.rule.severity} />
              </td>
              <td class={s.muted}>{ago(r.status.resolved_at ?? r.status.fired_at ?? r.status.last_eval_at, props.now)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function HistoryTable(props: { rule: string }) {
  const [events, setEvents] = useState<AlertEvent[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    const ac = new AbortController();
    history({ rule: props.rule, limit: 200 }, { signal: ac.signal })
      .then((e) => {
        setEvents(e);
        setErr(null);
      })
      .catch((e: unknown) => !isAbort(e) && setErr(e));
    return () => ac.abort();
  }, [props.rule]);
  return (
    <>
      <ErrorBox error={err} />
      {events && !events.length && <p class="empty">No alert history{props.rule ? ` for ${props.rule}` : ''}.</p>}
      {events && events.length > 0 && (
        <div class="table-wrap">
          <table class={s.table} data-testid="alert-history">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Rule</th>
                <th scope="col">State</th>
                <th scope="col">What</th>
                <th scope="col">Traces</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e, i) => (
                <tr key={i} data-testid="history-row">
                  <td class={s.muted}>{new Date(e.time).toLocaleString()}</td>
                  <td>{e.rule_name || e.rule_id}</td>
                  <td>
                    <StateBadge state={e.state} />
                  </td>
                  <td>{e.message}</td>
                  <td>
                    <Samples ids={e.trace_ids} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function DeliveriesTable(props: { rule: string }) {
  const [ds, setDs] = useState<Delivery[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    const ac = new AbortController();
    deliveries({ rule: props.rule, limit: 200 }, { signal: ac.signal })
      .then((d) => {
        setDs(d);
        setErr(null);
      })
      .catch((e: unknown) => !isAbort(e) && setErr(e));
    return () => ac.abort();
  }, [props.rule]);
  return (
    <>
      <ErrorBox error={err} />
      {ds && !ds.length && <p class="empty">No notification was sent{props.rule ? ` for ${props.rule}` : ''}.</p>}
      {ds && ds.length > 0 && (
        <div class="table-wrap">
          <table class={s.table} data-testid="alert-deliveries">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Rule</th>
                <th scope="col">Receiver</th>
                <th scope="col">State</th>
                <th scope="col">Attempt</th>
                <th scope="col">Outcome</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {ds.map((d, i) => (
                <tr key={i} data-testid="delivery-row" data-outcome={d.outcome}>
                  <td class={s.muted}>{new Date(d.time).toLocaleString()}</td>
                  <td>{d.rule_id}</td>
                  <td>
                    {d.receiver} <span class={s.muted}>({d.receiver_type})</span>
                  </td>
                  <td>{d.state}</td>
                  <td class="num">{d.attempt || ''}</td>
                  <td class={s[`outcome-${d.outcome}`] ?? ''}>{d.outcome.replace('_', ' ')}</td>
                  <td>
                    {d.http_status ? `HTTP ${d.http_status} · ` : ''}
                    {Math.round(d.duration_ms)} ms{d.error ? ` · ${d.error}` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

export function AlertsPage() {
  const route = useRoute();
  const tab = (route.params.get('tab') as Tab | null) ?? 'rules';
  const selected = route.params.get('rule') ?? '';
  const [list, setList] = useState<RuleStatus[] | null>(null);
  const [receivers, setReceivers] = useState<ReceiverInfo[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const [editing, setEditing] = useState<{ rule: Rule; isNew: boolean } | null>(null);
  const [now, setNow] = useState(Date.now());
  const [live] = useLive({ topics: ['alert'] });

  const load = (signal?: AbortSignal) =>
    listRules({ signal })
      .then((l) => {
        setList(l);
        setErr(null);
      })
      .catch((e: unknown) => !isAbort(e) && setErr(e));
  useEffect(() => {
    const ac = new AbortController();
    void load(ac.signal);
    listReceivers({ signal: ac.signal })
      .then(setReceivers)
      .catch(() => undefined);
    const t = setInterval(() => {
      setNow(Date.now());
      void load();
    }, 15000);
    return () => {
      ac.abort();
      clearInterval(t);
    };
  }, []);
  // Live alert messages update the list at once.
  const newest = live.alerts[0];
  useEffect(() => {
    if (!newest || !isEngineAlert(newest)) return;
    setNow(Date.now());
    setList((l) => {
      if (!l) return l;
      const next = applyLiveAlert(l, newest);
      if (next === l) void load();
      return next;
    });
  }, [newest?.id]);
  // Notification links name a rule: open it.
  useEffect(() => {
    if (!selected || !list || editing?.rule.id === selected) return;
    const r = list.find((x) => x.rule.id === selected);
    if (r) setEditing({ rule: r.rule, isNew: false });
  }, [selected, list]);

  const go = (params: Record<string, string>) => {
    const p = new URLSearchParams(route.params);
    for (const [k, v] of Object.entries(params)) {
      if (v) p.set(k, v);
      else p.delete(k);
    }
    const q = p.toString();
    navigate(`/alerts${q ? `?${q}` : ''}`);
  };
  const select = (id: string) => {
    const r = list?.find((x) => x.rule.id === id);
    if (r) setEditing({ rule: r.rule, isNew: false });
    go({ rule: id });
  };
  const sorted = list ? sortRules(list) : [];
  const remove = async (id: string) => {
    if (!confirm(`Delete rule ${id}? A firing alert of it is resolved.`)) return;
    try {
      await deleteRule(id);
      setEditing(null);
      go({ rule: '' });
      void load();
    } catch (e) {
      setErr(e);
    }
  };

  return (
    <div class={`page ${s.page}`} data-testid="alerts-page">
      <div class="toolbar">
        <h1>Alerts</h1>
        <span class={s.muted} data-testid="firing-count">
          {list ? `${firing(list).length} firing · ${list.length} rules` : ''}
        </span>
        <button type="button" class="primary" data-testid="new-rule" onClick={() => setEditing({ rule: newRule('trace'), isNew: true })}>
          New rule
        </button>
      </div>
      <div class={s.tabs} role="tablist">
        {(
          [
            ['rules', 'Alerts & rules'],
            ['history', 'History'],
            ['deliveries', 'Deliveries'],
          ] as [Tab, string][]
        ).map(([t, label]) => (
          <button key={t} type="button" role="tab" class={s.tab} aria-selected={tab === t} data-testid={`tab-${t}`} onClick={() => go({ tab: t === 'rules' ? '' : t })}>
            {label}
          </button>
        ))}
        {selected && (
          <span class={s.muted} style={{ alignSelf: 'center', marginLeft: 'auto' }}>
            rule {selected}{' '}
            <button type="button" class="linkish" onClick={() => go({ rule: '' })}>
              show all
            </button>
          </span>
        )}
      </div>
      <ErrorBox error={err} testid="alerts-error" />
      <div class={s.layout}>
        <div class={s.main}>
          {tab === 'rules' && (
            <>
              <FiringCards list={sorted} now={now} onSelect={select} />
              <RulesTable list={sorted} selected={selected} now={now} onSelect={select} />
            </>
          )}
          {tab === 'history' && <HistoryTable rule={selected} />}
          {tab === 'deliveries' && <DeliveriesTable rule={selected} />}
        </div>
        {editing && tab === 'rules' && (
          <aside class={s.side}>
            <RuleEditor
              key={`${editing.rule.id}-${editing.isNew}`}
              rule={editing.rule}
              isNew={editing.isNew}
              receivers={receivers}
              onSaved={(r) => {
                setEditing({ rule: r, isNew: false });
                go({ rule: r.id });
                void load();
              }}
              onCancel={() => {
                setEditing(null);
                go({ rule: '' });
              }}
            />
            {!editing.isNew && editing.rule.source !== 'file' && (
              <button type="button" data-testid="rule-delete" onClick={() => void remove(editing.rule.id)}>
                Delete rule
              </button>
            )}
          </aside>
        )}
      </div>
    </div>
  );
}
