// The rule editor: every field of a rule, checked by the server as the user
// types (POST /alerting/rules/validate), with each problem shown next to its
// field and filter-expression errors pointed at their position.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { isAbort } from '../api/client';
import { ErrorBox } from '../components/common';
import { createRule, putRule, RuleError, validateRule, type FieldError, type Kind, type ReceiverInfo, type Rule } from './api';
import s from './Alerts.module.css';
import { byteToIndex, changeKind, cleanRule, errorsByField, formatLabels, parseLabels } from './model';

const kinds: [Kind, string][] = [
  ['trace', 'Every new matching trace'],
  ['count', 'Count of matching traces above a threshold'],
  ['ratio', 'Fault or error ratio of a service or edge'],
  ['latency', 'Response-time percentile above a threshold'],
];

function Problems(props: { errors: FieldError[] | undefined; testid: string }) {
  if (!props.errors?.length) return null;
  return (
    <div class={s.fieldError} role="alert" data-testid={props.testid}>
      {props.errors.map((e, i) => (
        <div key={i}>{e.message}</div>
      ))}
    </div>
  );
}

export function RuleEditor(props: { rule: Rule; isNew: boolean; receivers: ReceiverInfo[]; onSaved: (r: Rule) => void; onCancel: () => void }) {
  const [rule, setRule] = useState<Rule>(props.rule);
  const [labels, setLabels] = useState(formatLabels(props.rule.labels));
  const [fieldErrors, setFieldErrors] = useState<FieldError[]>([]);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const filterRef = useRef<HTMLTextAreaElement>(null);
  const readOnly = props.rule.source === 'file';
  const selection = rule.group !== undefined ? 'group' : 'filter';
  const c = rule.condition;
  const labelsOK = parseLabels(labels) !== undefined;

  const toSend = useMemo(() => cleanRule({ ...rule, labels: parseLabels(labels) ?? rule.labels }), [rule, labels]);
  // Validate on the server while editing (debounced).
  useEffect(() => {
    const ac = new AbortController();
    const t = setTimeout(() => {
      validateRule(toSend, { signal: ac.signal })
        .then(() => setFieldErrors([]))
        .catch((e: unknown) => {
          if (isAbort(e)) return;
          setFieldErrors(e instanceof RuleError ? e.fields : []);
        });
    }, 300);
    return () => {
      clearTimeout(t);
      ac.abort();
    };
  }, [JSON.stringify(toSend)]);

  const errs = errorsByField(fieldErrors);
  const filterErr = errs.get('filter')?.[0];
  const caret = filterErr?.position !== undefined && rule.filter !== undefined ? byteToIndex(rule.filter, filterErr.position) : undefined;
  const set = (patch: Partial<Rule>) => setRule((r) => ({ ...r, ...patch }));
  const setCond = (patch: Partial<Rule['condition']>) => setRule((r) => ({ ...r, condition: { ...r.condition, ...patch } }));
  const num = (v: string) => (v.trim() === '' ? undefined : Number(v));
  const inputCls = (field: string) => (errs.has(field) ? s.invalid : '');

  const save = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setSaveError(null);
    try {
      const out = props.isNew ? await createRule(toSend) : await putRule(props.rule.id, toSend);
      props.onSaved(out.rule);
    } catch (e) {
      if (e instanceof RuleError) setFieldErrors(e.fields);
      setSaveError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class={s.form} onSubmit={save} data-testid="rule-editor">
      <h2>{props.isNew ? 'New rule' : readOnly ? `Rule ${props.rule.id} (from the rules file, read-only)` : `Edit ${props.rule.id}`}</h2>
      <fieldset disabled={readOnly} style={{ border: 'none', padding: 0, margin: 0, display: 'flex', flexDirection: 'column', gap: '8px' }}>
        <label class={s.row}>
          <span>Name</span>
          <input data-testid="rule-name" class={inputCls('name')} value={rule.name} onInput={(e) => set({ name: e.currentTarget.value })} />
          <Problems errors={errs.get('name') ?? errs.get('id')} testid="error-name" />
        </label>
        <label class={s.row}>
          <span>Condition</span>
          <select data-testid="rule-kind" value={c.kind} onChange={(e) => setRule((r) => changeKind(r, e.currentTarget.value as Kind))}>
            {kinds.map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
          <Problems errors={errs.get('condition.kind')} testid="error-kind" />
        </label>
        <div class={s.inline}>
          <label class={s.row}>
            <span>Traces selected by</span>
            <select
              value={selection}
              onChange={(e) => (e.currentTarget.value === 'group' ? set({ group: '', filter: undefined }) : set({ filter: '', group: undefined }))}
            >
              <option value="filter">a filter expression</option>
              <option value="group">an X-Ray group</option>
            </select>
          </label>
          {selection === 'group' && (
            <label class={s.row}>
              <span>Group</span>
              <input data-testid="rule-group" class={inputCls('group')} value={rule.group ?? ''} onInput={(e) => set({ group: e.currentTarget.value })} />
            </label>
          )}
        </div>
        {selection === 'filter' && (
          <label class={s.row}>
            <span>Filter expression{c.kind === 'trace' ? '' : ' (optional)'}</span>
            <textarea
              ref={filterRef}
              data-testid="rule-filter"
              class={`${s.mono} ${inputCls('filter')}`}
              rows={2}
              spellcheck={false}
              aria-invalid={!!filterErr}
              value={rule.filter ?? ''}
              placeholder={'fault AND service("checkout")'}
              onInput={(e) => set({ filter: e.currentTarget.value })}
            />
            {caret !== undefined && (
              <div class={s.caret} data-testid="filter-caret">
                {(rule.filter ?? '').slice(0, caret).replace(/[^\n]/g, ' ') + '^'}
              </div>
            )}
            {filterErr && caret !== undefined && (
              <button
                type="button"
                class="linkish"
                onClick={() => {
                  filterRef.current?.focus();
                  filterRef.current?.setSelectionRange(caret, caret);
                }}
              >
                Go to the error
              </button>
            )}
            <Problems errors={errs.get('filter')} testid="error-filter" />
          </label>
        )}
        <Problems errors={errs.get('group')} testid="error-group" />
        {(c.kind === 'ratio' || c.kind === 'latency') && (
          <div class={s.inline}>
            <label class={s.row}>
              <span>{c.kind === 'latency' ? 'Service (empty: traces)' : 'Service'}</span>
              <input data-testid="rule-service" value={c.service ?? ''} disabled={!!c.edge} onInput={(e) => setCond({ service: e.currentTarget.value })} />
            </label>
            {c.kind === 'ratio' && (
              <label class={s.row}>
                <span>or edge from → to</span>
                <input
                  data-testid="rule-edge"
                  placeholder="frontend -> checkout"
                  value={c.edge ? `${c.edge.from} -> ${c.edge.to}` : ''}
                  onInput={(e) => {
                    const v = e.currentTarget.value;
                    const [from, to] = v.split(/\s*(?:->|→)\s*/);
                    setCond(v.trim() ? { edge: { from: from ?? '', to: to ?? '' }, service: undefined } : { edge: undefined });
                  }}
                />
              </label>
            )}
          </div>
        )}
        <Problems errors={[...(errs.get('condition.service') ?? []), ...(errs.get('condition.edge') ?? [])]} testid="error-service" />
        <div class={s.inline}>
          {c.kind === 'ratio' && (
            <label class={s.row}>
              <span>Class</span>
              <select value={c.class ?? 'fault'} onChange={(e) => setCond({ class: e.currentTarget.value as 'fault' | 'error' })}>
                <option value="fault">fault (5xx)</option>
                <option value="error">error (4xx)</option>
              </select>
            </label>
          )}
          {c.kind === 'latency' && (
            <label class={s.row}>
              <span>Percentile</span>
              <input type="number" step="any" value={c.percentile ?? ''} onInput={(e) => setCond({ percentile: num(e.currentTarget.value) })} />
              <Problems errors={errs.get('condition.percentile')} testid="error-percentile" />
            </label>
          )}
          {c.kind !== 'trace' && (
            <label class={s.row}>
              <span>{c.kind === 'ratio' ? 'Threshold (0–1)' : c.kind === 'latency' ? 'Threshold (s)' : 'Threshold (traces)'}</span>
              <input
                data-testid="rule-threshold"
                type="number"
                step="any"
                class={inputCls('condition.threshold')}
                value={c.threshold ?? ''}
                onInput={(e) => setCond({ threshold: num(e.currentTarget.value) })}
              />
              <Problems errors={errs.get('condition.threshold')} testid="error-threshold" />
            </label>
          )}
          <label class={s.row}>
            <span>{c.kind === 'trace' ? 'Resolve after (quiet)' : 'Window'}</span>
            <input data-testid="rule-window" class={inputCls('condition.window')} value={c.window ?? ''} placeholder="5m" onInput={(e) => setCond({ window: e.currentTarget.value })} />
            <Problems errors={errs.get('condition.window')} testid="error-window" />
          </label>
        </div>
        {c.kind !== 'trace' && (
          <div class={s.inline}>
            <label class={s.row}>
              <span>Evaluate every</span>
              <input data-testid="rule-interval" class={inputCls('interval')} value={rule.interval ?? ''} placeholder="30s" onInput={(e) => set({ interval: e.currentTarget.value })} />
              <Problems errors={errs.get('interval')} testid="error-interval" />
            </label>
            <label class={s.row}>
              <span>For (pending before firing)</span>
              <input data-testid="rule-for" class={inputCls('for')} value={rule.for ?? ''} placeholder="0s" onInput={(e) => set({ for: e.currentTarget.value })} />
              <Problems errors={errs.get('for')} testid="error-for" />
            </label>
            {(c.kind === 'ratio' || c.kind === 'latency') && (
              <label class={s.row}>
                <span>Min. requests</span>
                <input type="number" value={c.min_requests ?? ''} onInput={(e) => setCond({ min_requests: num(e.currentTarget.value) })} />
              </label>
            )}
          </div>
        )}
        <div class={s.inline}>
          <label class={s.row}>
            <span>Severity</span>
            <select data-testid="rule-severity" value={rule.severity ?? 'warning'} onChange={(e) => set({ severity: e.currentTarget.value as Rule['severity'] })}>
              <option value="critical">critical</option>
              <option value="warning">warning</option>
              <option value="info">info</option>
            </select>
          </label>
          <label class={s.row}>
            <span>Labels (k=v, …)</span>
            <input class={labelsOK && !errs.has('labels') ? '' : s.invalid} value={labels} onInput={(e) => setLabels(e.currentTarget.value)} />
            {!labelsOK && <div class={s.fieldError}>write labels as name=value, separated by commas</div>}
            <Problems errors={errs.get('labels')} testid="error-labels" />
          </label>
        </div>
        {props.receivers.length > 0 && (
          <fieldset class={s.row} style={{ border: 'none', padding: 0 }}>
            <span>Receivers (none ticked: all)</span>
            {props.receivers.map((r) => (
              <label key={r.name}>
                <input
                  type="checkbox"
                  checked={rule.receivers?.includes(r.name) ?? false}
                  onChange={(e) =>
                    set({ receivers: e.currentTarget.checked ? [...(rule.receivers ?? []), r.name] : (rule.receivers ?? []).filter((x) => x !== r.name) })
                  }
                />{' '}
                {r.name} <span class={s.muted}>({r.type} {r.target})</span>
              </label>
            ))}
            <Problems errors={errs.get('receivers')} testid="error-receivers" />
          </fieldset>
        )}
        <label class={s.row}>
          <span>Mute windows (one per line: "22:00-06:00 sat,sun Europe/Berlin" or "2026-01-01T00:00Z/2026-01-02T00:00Z")</span>
          <textarea rows={2} class={`${s.mono} ${inputCls('mute')}`} value={formatMutes(rule.mute)} onChange={(e) => set({ mute: parseMutes(e.currentTarget.value) })} />
          <Problems errors={errs.get('mute')} testid="error-mute" />
        </label>
        <label>
          <input type="checkbox" checked={rule.disabled ?? false} onChange={(e) => set({ disabled: e.currentTarget.checked || undefined })} /> Disabled
        </label>
      </fieldset>
      <ErrorBox error={fieldErrors.length ? null : saveError} testid="rule-save-error" />
      <div class={s.buttons}>
        {!readOnly && (
          <button type="submit" class="primary" data-testid="rule-save" disabled={busy || !labelsOK}>
            {busy ? 'Saving…' : 'Save'}
          </button>
        )}
        <button type="button" onClick={props.onCancel}>
          {readOnly ? 'Close' : 'Cancel'}
        </button>
      </div>
    </form>
  );
}

/** Mute windows as editable text, one per line. */
function formatMutes(ms: Rule['mute']): string {
  return (ms ?? [])
    .map((m) => (m.start || m.end ? `${m.start ?? ''}/${m.end ?? ''}` : `${m.from ?? ''}-${m.to ?? ''}${m.weekdays?.length ? ` ${m.weekdays.join(',')}` : ''}${m.tz ? ` ${m.tz}` : ''}`))
    .join('\n');
}

function parseMutes(text: string): Rule['mute'] {
  const out: NonNullable<Rule['mute']> = [];
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (!l) continue;
    if (l.includes('/')) {
      const [start, end] = l.split('/');
      out.push({ start: start?.trim(), end: end?.trim() });
      continue;
    }
    const [range, ...rest] = l.split(/\s+/);
    const [from, to] = (range ?? '').split('-');
    const m: NonNullable<Rule['mute']>[number] = { from: from ?? '', to: to ?? '' };
    for (const r of rest) {
      if (/^[a-z,]+$/i.test(r) && r.split(',').every((d) => /^(mon|tue|wed|thu|fri|sat|sun)$/i.test(d))) m.weekdays = r.split(',');
      else m.tz = r;
    }
    out.push(m);
  }
  return out.length ? out : undefined;
}
