import { describe, expect, it } from 'vitest';
import type { RuleStatus } from './api';
import { RuleError, ruleError } from './api';
import {
  ago,
  applyLiveAlert,
  byteToIndex,
  changeKind,
  cleanRule,
  describeCondition,
  errorsByField,
  firingServices,
  isEngineAlert,
  newRule,
  parseLabels,
  sortRules,
  type LiveAlert,
} from './model';

const rs = (id: string, state: RuleStatus['status']['state'], severity: 'critical' | 'warning' | 'info' = 'warning'): RuleStatus => ({
  rule: { id, name: id.toUpperCase(), severity, filter: 'fault', condition: { kind: 'trace' } },
  status: { state, value: 0, threshold: 0, counts: { matching: 0, total: 0, new: 0 }, muted: false, undelivered: 0 },
});

const live = (over: Partial<LiveAlert>): LiveAlert => ({
  id: 'n1',
  severity: 'critical',
  title: 'Payments faults',
  message: '3 traces match',
  time: 1700000000,
  alert_id: 'a1',
  rule_id: 'b',
  state: 'firing',
  update: false,
  value: 3,
  counts: { matching: 3, total: 3, new: 3 },
  trace_ids: ['1-x'],
  service: { Name: 'payments', Type: 'AWS::ECS::Container' },
  ...over,
});

describe('live alerts', () => {
  it('recognises engine alerts only', () => {
    expect(isEngineAlert(live({}))).toBe(true);
    expect(isEngineAlert({ id: 'rejected-1', severity: 'warning', title: 'Subscription rejected', time: 1 })).toBe(false);
  });
  it('marks a rule firing, then resolved, without touching the input', () => {
    const list = [rs('a', 'inactive'), rs('b', 'inactive')];
    const fired = applyLiveAlert(list, live({}));
    expect(list[1]!.status.state).toBe('inactive');
    expect(fired[1]!.status).toMatchObject({ state: 'firing', alert_id: 'a1', counts: { matching: 3 }, sample_trace_ids: ['1-x'], root_cause_service: { name: 'payments' } });
    expect(fired[1]!.status.fired_at).toBe(new Date(1700000000 * 1000).toISOString());
    const upd = applyLiveAlert(fired, live({ update: true, time: 1700000060, counts: { matching: 5, total: 5, new: 2 }, trace_ids: ['1-y'] }));
    expect(upd[1]!.status.fired_at).toBe(fired[1]!.status.fired_at);
    expect(upd[1]!.status.counts.matching).toBe(5);
    const res = applyLiveAlert(upd, live({ state: 'resolved', time: 1700000120 }));
    expect(res[1]!.status.state).toBe('resolved');
    expect(firingServices(fired)).toEqual(new Set(['payments']));
    expect(firingServices(res)).toEqual(new Set());
    expect(applyLiveAlert(list, live({ rule_id: 'zz' }))).toBe(list);
  });
  it('sorts firing first, then by severity and name', () => {
    const out = sortRules([rs('c', 'inactive', 'critical'), rs('b', 'firing', 'info'), rs('a', 'firing', 'critical'), rs('d', 'pending')]);
    expect(out.map((r) => r.rule.id)).toEqual(['a', 'b', 'd', 'c']);
  });
});

describe('rules', () => {
  it('describes conditions', () => {
    expect(describeCondition({ id: '', name: '', filter: 'fault', condition: { kind: 'trace' } })).toBe('every new trace matching fault');
    expect(describeCondition({ id: '', name: '', condition: { kind: 'ratio', edge: { from: 'a', to: 'b' }, threshold: 0.05, window: '10m' } })).toBe(
      'fault ratio of edge a → b above 5% over 10m',
    );
    expect(describeCondition({ id: '', name: '', group: 'g', condition: { kind: 'latency', threshold: 2, percentile: 95 } })).toBe(
      'p95 response time of traces of group g above 2 s over 5m',
    );
    expect(describeCondition({ id: '', name: '', condition: { kind: 'count', threshold: 3 } })).toBe('more than 3 all traces in 5m');
  });
  it('changes kind keeping shared members', () => {
    const r = { ...newRule('count'), name: 'n', labels: { team: 'x' }, filter: 'error' };
    const t = changeKind(r, 'trace');
    expect(t).toMatchObject({ name: 'n', filter: 'error', labels: { team: 'x' }, condition: { kind: 'trace' } });
    expect(t.interval).toBeUndefined();
    expect(changeKind({ ...r, group: 'g' }, 'latency').filter).toBeUndefined();
  });
  it('cleans empty members before sending', () => {
    const c = cleanRule({ id: '', name: 'x', filter: '', group: 'g', labels: {}, receivers: [], condition: { kind: 'ratio', service: '', threshold: 0.1 } });
    expect(c).toEqual({ name: 'x', group: 'g', condition: { kind: 'ratio', threshold: 0.1 } });
  });
  it('parses labels', () => {
    expect(parseLabels('team=shop, env = prod')).toEqual({ team: 'shop', env: 'prod' });
    expect(parseLabels('')).toEqual({});
    expect(parseLabels('novalue')).toBeUndefined();
  });
});

describe('errors', () => {
  it('keeps the per-field problems of a rejected rule', () => {
    const body = JSON.stringify({
      __type: 'InvalidRequestException',
      Message: 'invalid alert rule: filter: expected ) at position 21',
      Errors: [
        { field: 'filter', position: 21, message: 'expected )' },
        { field: 'mute[0]', message: 'from and to must be HH:MM' },
        { nope: 1 },
      ],
    });
    const e = ruleError(400, new Headers({ 'X-Amzn-ErrorType': 'InvalidRequestException' }), body);
    expect(e).toBeInstanceOf(RuleError);
    const fields = (e as RuleError).fields;
    expect(fields).toHaveLength(2);
    expect(e.code).toBe('InvalidRequestException');
    const m = errorsByField(fields);
    expect(m.get('filter')![0]!.position).toBe(21);
    expect(m.get('mute')).toHaveLength(1);
    expect(ruleError(409, new Headers({ 'X-Amzn-ErrorType': 'ConflictException' }), '{"Message":"exists"}')).not.toBeInstanceOf(RuleError);
  });
  it('converts byte positions to string indexes', () => {
    expect(byteToIndex('service("é") {', 12)).toBe(11);
    expect(byteToIndex('abc', 10)).toBe(3);
  });
  it('formats ages', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(ago('2026-01-01T11:59:30Z', now)).toBe('30 s ago');
    expect(ago('2026-01-01T10:00:00Z', now)).toBe('2 h ago');
    expect(ago(undefined, now)).toBe('');
  });
});
