// Typed client for Fluoro's alerting API (/alerting/…, query/alert/README.md):
// rules, active alerts, history, deliveries and receivers. Errors come in the
// X-Ray shape; rule validation adds `Errors`, one entry per field, which the
// editor shows inline.
import { ApiError, errText, isAbort, parseApiError, type FetchLike } from '../api/client';

export type Kind = 'trace' | 'count' | 'ratio' | 'latency';
export type Severity = 'critical' | 'warning' | 'info';
export type AlertState = 'inactive' | 'pending' | 'firing' | 'resolved';

export interface MuteWindow {
  start?: string;
  end?: string;
  weekdays?: string[];
  from?: string;
  to?: string;
  tz?: string;
  comment?: string;
}

export interface Condition {
  kind: Kind;
  /** Durations are strings like "5m", "90s", "1h30m". */
  window?: string;
  threshold?: number;
  service?: string;
  edge?: { from: string; to: string };
  class?: 'fault' | 'error';
  percentile?: number;
  min_requests?: number;
}

export interface Rule {
  id: string;
  name: string;
  description?: string;
  filter?: string;
  group?: string;
  condition: Condition;
  interval?: string;
  for?: string;
  severity?: Severity;
  labels?: Record<string, string>;
  mute?: MuteWindow[];
  receivers?: string[];
  disabled?: boolean;
  source?: 'api' | 'file';
  created_at?: string;
  modified_at?: string;
}

export interface ServiceRef {
  name: string;
  type?: string;
}

export interface Counts {
  matching: number;
  total: number;
  new: number;
}

export interface Status {
  state: AlertState;
  alert_id?: string;
  active_at?: string;
  fired_at?: string;
  resolved_at?: string;
  last_eval_at?: string;
  last_match_at?: string;
  eval_duration?: string;
  value: number;
  threshold: number;
  counts: Counts;
  sample_trace_ids?: string[];
  root_cause_service?: ServiceRef;
  notified?: string;
  notified_at?: string;
  muted: boolean;
  undelivered: number;
  summary?: string;
  error?: string;
}

export interface RuleStatus {
  rule: Rule;
  status: Status;
}

export interface AlertEvent {
  time: string;
  rule_id: string;
  rule_name: string;
  alert_id: string;
  state: string;
  severity: string;
  value: number;
  threshold: number;
  matching: number;
  total: number;
  root_cause_service?: ServiceRef;
  trace_ids: string[];
  message: string;
}

export interface Delivery {
  time: string;
  notification_id: string;
  rule_id: string;
  alert_id: string;
  receiver: string;
  receiver_type: string;
  state: string;
  attempt: number;
  outcome: 'delivered' | 'failed' | 'gave_up' | 'muted' | 'dropped';
  http_status?: number;
  error?: string;
  duration_ms: number;
}

export interface ReceiverInfo {
  name: string;
  type: string;
  target: string;
}

/** One problem of a rule: the field (e.g. "condition.window"), the byte position in a filter expression, the message. */
export interface FieldError {
  field: string;
  position?: number;
  message: string;
}

/** A rejected rule: an ApiError with the per-field problems. */
export class RuleError extends ApiError {
  readonly fields: FieldError[];
  constructor(e: ApiError, fields: FieldError[]) {
    super(e.code, e.message, e.status, e.position);
    this.fields = fields;
  }
}

export interface Options {
  signal?: AbortSignal;
  fetch?: FetchLike;
}

let base = '';

/** Sets the origin of the alerting API (tests; the dashboard uses its own origin). */
export function setAlertingBase(b: string): void {
  base = b.replace(/\/+$/, '');
}

async function call<T>(method: string, path: string, body: unknown, opts: Options = {}): Promise<T> {
  const f = opts.fetch ?? fetch;
  let resp: Response;
  try {
    resp = await f(base + path, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      signal: opts.signal ?? null,
    });
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError('NetworkError', `cannot reach the server: ${errText(e)}`, 0);
  }
  const text = await resp.text();
  if (!resp.ok) throw ruleError(resp.status, resp.headers, text);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError('SerializationException', `the server answered ${path} with invalid JSON`, resp.status);
  }
}

/** Parses an error response, keeping the per-field problems of a rejected rule. */
export function ruleError(status: number, headers: { get(name: string): string | null }, text: string): ApiError {
  const e = parseApiError(status, headers, text);
  try {
    const v = JSON.parse(text) as { Errors?: unknown };
    if (Array.isArray(v.Errors)) {
      const fields = v.Errors.filter(
        (x): x is FieldError => !!x && typeof x === 'object' && typeof (x as FieldError).field === 'string' && typeof (x as FieldError).message === 'string',
      );
      return new RuleError(e, fields);
    }
  } catch {
    // not JSON: the plain error
  }
  return e;
}

const q = (params: Record<string, string | number | undefined>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
};

export const listRules = (o?: Options) => call<{ rules: RuleStatus[] }>('GET', '/alerting/rules', undefined, o).then((r) => r.rules);
export const getRule = (id: string, o?: Options) => call<RuleStatus>('GET', `/alerting/rules/${encodeURIComponent(id)}`, undefined, o);
export const createRule = (r: Rule, o?: Options) => call<RuleStatus>('POST', '/alerting/rules', r, o);
export const putRule = (id: string, r: Rule, o?: Options) => call<RuleStatus>('PUT', `/alerting/rules/${encodeURIComponent(id)}`, r, o);
export const deleteRule = (id: string, o?: Options) => call<object>('DELETE', `/alerting/rules/${encodeURIComponent(id)}`, undefined, o);
export const validateRule = (r: Rule, o?: Options) => call<{ valid: boolean; rule: Rule }>('POST', '/alerting/rules/validate', r, o);
export const listAlerts = (o?: Options) => call<{ alerts: RuleStatus[] }>('GET', '/alerting/alerts', undefined, o).then((r) => r.alerts);
export const listReceivers = (o?: Options) => call<{ receivers: ReceiverInfo[] }>('GET', '/alerting/receivers', undefined, o).then((r) => r.receivers);
export const history = (p: { rule?: string; alert?: string; limit?: number }, o?: Options) =>
  call<{ events: AlertEvent[] }>('GET', `/alerting/history${q(p)}`, undefined, o).then((r) => r.events);
export const deliveries = (p: { rule?: string; alert?: string; limit?: number }, o?: Options) =>
  call<{ deliveries: Delivery[] }>('GET', `/alerting/deliveries${q(p)}`, undefined, o).then((r) => r.deliveries);
