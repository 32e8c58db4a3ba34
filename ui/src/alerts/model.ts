// Pure helpers of the alerts page: live alert messages, rule descriptions,
// editor templates and inline errors. Framework-free (tested with Vitest).
import type { Alert } from '../live/messages';
import type { Counts, FieldError, Kind, Rule, RuleStatus, ServiceRef } from './api';

/**
 * The data of a websocket "alert" message sent by the alerting engine: the
 * dashboard's Alert shape plus the alert's details (query/alert LiveAlert).
 * Other alert messages (e.g. a rejected subscription) have no rule_id.
 */
export interface LiveAlert extends Alert {
  alert_id: string;
  rule_id: string;
  state: 'firing' | 'resolved';
  update: boolean;
  value: number;
  counts: Counts;
  trace_ids: string[];
  links?: { alert: string; traces: string; samples: string[] };
}

/** Narrows an alert message to one from the alerting engine. */
export function isEngineAlert(a: Alert): a is LiveAlert {
  const x = a as Partial<LiveAlert>;
  return typeof x.rule_id === 'string' && typeof x.alert_id === 'string' && (x.state === 'firing' || x.state === 'resolved');
}

/**
 * Applies a live alert message to the list of rules with their status: the
 * rule's alert becomes firing (with the new counts and samples) or resolved.
 * Messages for unknown rules are ignored (the page reloads the list). Returns a
 * new list; the input is not modified.
 */
export function applyLiveAlert(list: RuleStatus[], a: LiveAlert): RuleStatus[] {
  const i = list.findIndex((r) => r.rule.id === a.rule_id);
  if (i < 0) return list;
  const cur = list[i]!;
  const when = new Date(a.time * 1000).toISOString();
  const status = { ...cur.status, alert_id: a.alert_id, value: a.value, summary: a.message ?? cur.status.summary };
  if (a.state === 'firing') {
    status.state = 'firing';
    status.counts = { ...a.counts };
    if (a.trace_ids.length) status.sample_trace_ids = [...a.trace_ids];
    if (!a.update || !status.fired_at) status.fired_at = status.fired_at && a.update ? status.fired_at : when;
    if (a.service?.Name) status.root_cause_service = { name: a.service.Name, type: a.service.Type };
  } else {
    status.state = 'resolved';
    status.resolved_at = when;
  }
  status.notified = a.state;
  status.notified_at = when;
  const out = [...list];
  out[i] = { ...cur, status };
  return out;
}

const stateOrder: Record<string, number> = { firing: 0, pending: 1, resolved: 2, inactive: 3 };
const sevOrder: Record<string, number> = { critical: 0, warning: 1, info: 2 };

/** Sorts rules for the list: firing first, then pending, by severity, then by name. */
export function sortRules(list: RuleStatus[]): RuleStatus[] {
  return [...list].sort(
    (a, b) =>
      (stateOrder[a.status.state] ?? 9) - (stateOrder[b.status.state] ?? 9) ||
      (sevOrder[a.rule.severity ?? 'warning'] ?? 9) - (sevOrder[b.rule.severity ?? 'warning'] ?? 9) ||
      a.rule.name.localeCompare(b.rule.name),
  );
}

/** The rules whose alert is firing. */
export function firing(list: RuleStatus[]): RuleStatus[] {
  return list.filter((r) => r.status.state === 'firing');
}

/** Names of the services firing alerts point at (root-cause service, or the rule's service/edge target). */
export function firingServices(list: RuleStatus[]): Set<string> {
  const out = new Set<string>();
  for (const r of firing(list)) {
    const s: ServiceRef | undefined = r.status.root_cause_service;
    const name = s?.name ?? r.rule.condition.service ?? r.rule.condition.edge?.to;
    if (name) out.add(name);
  }
  return out;
}

const pct = (v: number) => `${+(v * 100).toFixed(2)}%`;

/** One line describing what a rule tests. */
export function describeCondition(r: Rule): string {
  const c = r.condition;
  const sel = r.group ? `traces of group ${r.group}` : r.filter ? `traces matching ${r.filter}` : 'all traces';
  const win = c.window ?? '5m';
  switch (c.kind) {
    case 'trace':
      return `every new trace matching ${r.group ? `group ${r.group}` : (r.filter ?? '')}`;
    case 'count':
      return `more than ${c.threshold ?? 0} ${sel} in ${win}`;
    case 'ratio': {
      const target = c.edge ? `edge ${c.edge.from} → ${c.edge.to}` : `service ${c.service ?? ''}`;
      return `${c.class ?? 'fault'} ratio of ${target} above ${pct(c.threshold ?? 0)} over ${win}${r.filter || r.group ? ` (${sel})` : ''}`;
    }
    case 'latency': {
      const of = c.service ? `service ${c.service}` : sel;
      return `p${c.percentile ?? 99} response time of ${of} above ${c.threshold ?? 0} s over ${win}`;
    }
  }
}

/** A new rule of a kind, with the editor's defaults. */
export function newRule(kind: Kind): Rule {
  switch (kind) {
    case 'trace':
      return { id: '', name: '', filter: 'fault', severity: 'critical', condition: { kind, window: '5m' } };
    case 'count':
      return { id: '', name: '', filter: 'fault', severity: 'warning', interval: '30s', for: '1m', condition: { kind, window: '5m', threshold: 10 } };
    case 'ratio':
      return { id: '', name: '', severity: 'warning', interval: '30s', condition: { kind, service: '', class: 'fault', window: '5m', threshold: 0.05, min_requests: 10 } };
    case 'latency':
      return { id: '', name: '', severity: 'warning', interval: '30s', condition: { kind, percentile: 99, window: '5m', threshold: 1, min_requests: 10 } };
  }
}

/**
 * Switches a rule to another kind, keeping what both kinds share (name,
 * selection, severity, labels, mutes, receivers) and taking the new kind's
 * defaults for the rest.
 */
export function changeKind(r: Rule, kind: Kind): Rule {
  const d = newRule(kind);
  const out: Rule = { ...d, id: r.id, name: r.name, severity: r.severity ?? d.severity };
  for (const k of ['description', 'labels', 'mute', 'receivers', 'disabled'] as const) if (r[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = r[k];
  if (r.group) {
    out.group = r.group;
    delete out.filter;
  } else if (r.filter !== undefined) out.filter = r.filter;
  if (kind === 'trace') {
    delete out.interval;
    delete out.for;
  }
  return out;
}

/** Removes empty optional members before a rule is sent (an empty string is not "absent" to the server). */
export function cleanRule(r: Rule): Rule {
  const out = JSON.parse(JSON.stringify(r)) as Rule;
  const o = out as unknown as Record<string, unknown>;
  for (const k of ['id', 'description', 'filter', 'group', 'interval', 'for']) if (o[k] === '') delete o[k];
  const c = out.condition as unknown as Record<string, unknown>;
  for (const k of Object.keys(c)) if (c[k] === '' || c[k] === null) delete c[k];
  if (out.labels && Object.keys(out.labels).length === 0) delete out.labels;
  if (out.receivers && out.receivers.length === 0) delete out.receivers;
  if (out.mute && out.mute.length === 0) delete out.mute;
  return out;
}

/** Groups field errors by field (the editor shows each next to its input). */
export function errorsByField(errors: FieldError[]): Map<string, FieldError[]> {
  const m = new Map<string, FieldError[]>();
  for (const e of errors) {
    const k = e.field.replace(/\[\d+\]$/, '');
    m.set(k, [...(m.get(k) ?? []), e]);
  }
  return m;
}

/** Converts a UTF-8 byte offset (the server's positions) to a UTF-16 index in s. */
export function byteToIndex(s: string, byteOffset: number): number {
  let bytes = 0;
  let i = 0;
  while (i < s.length && bytes < byteOffset) {
    const cp = s.codePointAt(i)!;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += cp >= 0x10000 ? 2 : 1;
  }
  return i;
}

/** Parses "k=v, k2=v2" label text. Returns undefined when a pair has no '='. */
export function parseLabels(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq <= 0) return undefined;
    out[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
  }
  return out;
}

export function formatLabels(l?: Record<string, string>): string {
  return Object.entries(l ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** "3 min ago"-style age of an RFC 3339 time relative to now (ms). */
export function ago(t: string | undefined, now: number): string {
  if (!t) return '';
  const ms = now - Date.parse(t);
  if (!Number.isFinite(ms)) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
