import { describe, expect, it } from 'vitest';
import type { Service, TraceSummary } from '../api/types';
import { serviceGraph } from '../../test/fixtures';
import { buildGraph } from '../servicemap/model';
import { backoffDelay } from './backoff';
import { parseServerMessage, type GraphDelta, type ServerMessage } from './messages';
import { applyGraphDelta, initialLiveState, liveReducer, maxSummaries, summaryTime, type LiveAction, type LiveState } from './reducer';

const sum = (id: string, start: number, extra: Partial<TraceSummary> = {}): TraceSummary => ({ Id: id, StartTime: start, ...extra });
const msg = (seq: number, data: TraceSummary): LiveAction => ({ kind: 'message', msg: { type: 'trace.summary', seq, data } });
const run = (s: LiveState, ...as: LiveAction[]) => as.reduce(liveReducer, s);

describe('liveReducer', () => {
  it('resyncs on every (re)connect and restarts seq', () => {
    let s = run(initialLiveState(), { kind: 'open' });
    expect(s.status).toBe('open');
    expect(s.needsResync).toBe(true);
    s = run(s, { kind: 'resynced', summaries: [] }, msg(1, sum('1-a', 10)), msg(2, sum('1-b', 11)));
    expect(s.lastSeq).toBe(2);
    expect(s.needsResync).toBe(false);
    s = run(s, { kind: 'closed' }, { kind: 'connecting' }, { kind: 'open' });
    expect(s.lastSeq).toBe(0);
    expect(s.needsResync).toBe(true);
    s = run(s, { kind: 'resynced' }, msg(1, sum('1-c', 12)));
    expect(s.summaries.map((x) => x.Id)).toEqual(['1-c', '1-b', '1-a']);
  });

  it('ignores duplicates and flags gaps', () => {
    let s = run(initialLiveState(), { kind: 'open' }, { kind: 'resynced' }, msg(1, sum('1-a', 10)));
    const same = liveReducer(s, msg(1, sum('1-z', 99)));
    expect(same).toBe(s);
    s = liveReducer(s, msg(3, sum('1-b', 11)));
    expect(s.needsResync).toBe(true);
    expect(s.lastSeq).toBe(3);
  });

  it('orders summaries newest first, updates by revision and caps the list', () => {
    let s = run(initialLiveState(), { kind: 'open' }, { kind: 'resynced' });
    s = run(s, msg(1, sum('1-a', 10)), msg(2, sum('1-c', 30)), msg(3, sum('1-b', 20)));
    expect(s.summaries.map((x) => x.Id)).toEqual(['1-c', '1-b', '1-a']);
    expect(s.fresh).toEqual(['1-b', '1-c', '1-a']);
    s = liveReducer(s, msg(4, sum('1-b', 20, { Revision: 2, HasFault: true })));
    expect(s.summaries.find((x) => x.Id === '1-b')!.HasFault).toBe(true);
    s = liveReducer(s, msg(5, sum('1-b', 20, { Revision: 1, HasFault: false })));
    expect(s.summaries.find((x) => x.Id === '1-b')!.HasFault).toBe(true);
    expect(s.summaries).toHaveLength(3);
    for (let i = 0; i < maxSummaries + 10; i++) s = liveReducer(s, msg(6 + i, sum(`1-n${i}`, 100 + i)));
    expect(s.summaries).toHaveLength(maxSummaries);
    expect(s.summaries[0]!.Id).toBe(`1-n${maxSummaries + 9}`);
    expect(summaryTime({ Id: '1-6553f100-0123456789abcdef01234567' })).toBe(0x6553f100);
  });

  it('holds updates while paused and resyncs on resume; alerts still arrive', () => {
    let s = run(initialLiveState(), { kind: 'open' }, { kind: 'resynced', summaries: [sum('1-a', 1)] }, { kind: 'pause' });
    s = run(s, msg(1, sum('1-b', 2)), {
      kind: 'message',
      msg: { type: 'alert', seq: 2, data: { id: 'al1', severity: 'critical', title: 'api faults > 5%', time: 3 } },
    });
    expect(s.summaries.map((x) => x.Id)).toEqual(['1-a']);
    expect(s.missed).toBe(1);
    expect(s.alerts.map((a) => a.id)).toEqual(['al1']);
    s = liveReducer(s, { kind: 'open' }); // reconnect while paused: no resync until resumed
    expect(s.needsResync).toBe(false);
    s = liveReducer(s, { kind: 'resume' });
    expect(s.live).toBe(true);
    expect(s.needsResync).toBe(true);
    expect(s.missed).toBe(0);
    s = liveReducer(s, { kind: 'dismiss', alertId: 'al1' });
    expect(s.alerts).toEqual([]);
  });

  it('applies graph deltas to the map state', () => {
    const base = serviceGraph().Services!;
    let s = run(initialLiveState(), { kind: 'open' }, { kind: 'resynced', services: base });
    const delta: GraphDelta = {
      StartTime: 1700000300,
      EndTime: 1700000301,
      Services: [
        { ReferenceId: 10, Name: 'api', Type: 'AWS::EC2::Instance', AccountId: '123456789012', SummaryStatistics: { OkCount: 1, TotalCount: 2, FaultStatistics: { TotalCount: 1, OtherCount: 1 }, TotalResponseTime: 0.5 }, Edges: [{ ReferenceId: 11, SummaryStatistics: { OkCount: 1, TotalCount: 1, TotalResponseTime: 0.1 } }] },
        { ReferenceId: 11, Name: 'payments', Type: 'remote', State: 'unknown', SummaryStatistics: { OkCount: 1, TotalCount: 1, TotalResponseTime: 0.1 } },
      ],
    };
    s = liveReducer(s, { kind: 'message', msg: { type: 'graph.delta', seq: 1, data: delta } });
    const m = buildGraph(s.services, { start: 1699999700, end: 1700000300 });
    const api = m.nodes.find((n) => n.name === 'api' && n.kind === 'service')!;
    expect(api.health).toEqual({ ok: 81, error: 10, throttle: 0, fault: 11, total: 102 });
    const payments = m.nodes.find((n) => n.name === 'payments')!;
    expect(payments.kind).toBe('remote');
    expect(m.edges.some((e) => e.source === api.id && e.target === payments.id)).toBe(true);
    expect(m.nodes).toHaveLength(10);
    expect(m.edges).toHaveLength(9);
  });
});

describe('applyGraphDelta', () => {
  it('adds to existing edges and histograms without touching its input', () => {
    const base: Service[] = [
      { ReferenceId: 0, Name: 'a', Type: 'x', Edges: [{ ReferenceId: 1, SummaryStatistics: { OkCount: 1, TotalCount: 1 }, ResponseTimeHistogram: [{ Value: 0.1, Count: 1 }] }] },
      { ReferenceId: 1, Name: 'b', Type: 'y', ResponseTimeHistogram: [{ Value: 0.1, Count: 2 }] },
    ];
    const frozen = JSON.stringify(base);
    const out = applyGraphDelta(base, {
      StartTime: 0,
      EndTime: 1,
      Services: [
        { ReferenceId: 7, Name: 'b', Type: 'y', ResponseTimeHistogram: [{ Value: 0.1, Count: 1 }, { Value: 0.2, Count: 1 }] },
        { ReferenceId: 3, Name: 'a', Type: 'x', Edges: [{ ReferenceId: 7, SummaryStatistics: { OkCount: 2, TotalCount: 2 }, ResponseTimeHistogram: [{ Value: 0.1, Count: 2 }] }] },
      ],
    });
    expect(JSON.stringify(base)).toBe(frozen);
    expect(out).toHaveLength(2);
    expect(out[0]!.Edges).toHaveLength(1);
    expect(out[0]!.Edges![0]!.SummaryStatistics!.TotalCount).toBe(3);
    expect(out[0]!.Edges![0]!.ResponseTimeHistogram).toEqual([{ Value: 0.1, Count: 3 }]);
    expect(out[1]!.ResponseTimeHistogram).toEqual([{ Value: 0.1, Count: 3 }, { Value: 0.2, Count: 1 }]);
  });
});

describe('parseServerMessage', () => {
  const ok = (m: object) => parseServerMessage(JSON.stringify(m));
  it('accepts the three message types', () => {
    expect(ok({ type: 'trace.summary', seq: 1, data: { Id: '1-a' } })?.type).toBe('trace.summary');
    expect(ok({ type: 'graph.delta', seq: 2, data: { StartTime: 0, EndTime: 1, Services: [] } })?.type).toBe('graph.delta');
    expect(ok({ type: 'alert', seq: 3, data: { id: 'x', severity: 'info', title: 't', time: 0 } })?.type).toBe('alert');
  });
  it.each([
    ['not json', '{'],
    ['unknown type', JSON.stringify({ type: 'hello', seq: 1, data: {} })],
    ['no seq', JSON.stringify({ type: 'trace.summary', data: { Id: 'x' } })],
    ['zero seq', JSON.stringify({ type: 'trace.summary', seq: 0, data: { Id: 'x' } })],
    ['array data', JSON.stringify({ type: 'trace.summary', seq: 1, data: [] })],
    ['summary without Id', JSON.stringify({ type: 'trace.summary', seq: 1, data: {} })],
    ['delta without Services', JSON.stringify({ type: 'graph.delta', seq: 1, data: {} })],
    ['alert without title', JSON.stringify({ type: 'alert', seq: 1, data: { id: 'x' } })],
  ])('rejects %s', (_, text) => {
    expect(parseServerMessage(text)).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('grows exponentially with jitter and a cap', () => {
    expect(backoffDelay(0, () => 0)).toBe(250);
    expect(backoffDelay(0, () => 0.999999)).toBe(500);
    expect(backoffDelay(3, () => 0)).toBe(2000);
    expect(backoffDelay(20, () => 0.999999)).toBe(30000);
    expect(backoffDelay(1000, () => 0)).toBe(15000);
    const seen = new Set(Array.from({ length: 20 }, () => backoffDelay(4)));
    expect(seen.size).toBeGreaterThan(1);
    for (const v of seen) expect(v).toBeGreaterThanOrEqual(4000);
  });
});

export type { ServerMessage };
