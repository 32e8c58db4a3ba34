import { describe, expect, it } from 'vitest';
import type { SegmentDoc } from '../api/types';
import { batchGetTraces, countEntities, goldenSegments } from '../../test/fixtures';
import {
  buildTree,
  buildTreeFromTraces,
  collapseFrom,
  entityStatus,
  exceptions,
  flatten,
  formatOffset,
  ownDocument,
  rulerTicks,
  timeScale,
  toggle,
  visibleWindow,
} from './model';

const T = 1700000000;

describe('buildTreeFromTraces (golden BatchGetTraces)', () => {
  const tree = buildTreeFromTraces(batchGetTraces().Traces!);

  it('nests segments under the subsegments that called them', () => {
    expect(tree.problems).toEqual([]);
    expect(tree.traceId).toBe('1-6553f100-0123456789abcdef01234567');
    expect(tree.roots.map((r) => r.name)).toEqual(['api']);
    expect(tree.size).toBe(18);
    const parentOf = (id: string) => [...tree.byId.values()].find((e) => e.children.some((c) => c.id === id))?.id;
    expect(parentOf('c000000000000001')).toBe('b000000000000002'); // backend segment under the remote call
    expect(parentOf('d000000000000001')).toBe('b000000000000001'); // inferred DynamoDB table under the SDK call
    expect(parentOf('f000000000000001')).toBe('b000000000000003'); // AWS::Lambda under the Invoke call
    expect(parentOf('f000000000000002')).toBe('f000000000000001'); // function under the Lambda service segment
    expect(parentOf('d000000000000002')).toBe('f000000000000005'); // inferred SNS under the Publish call
    expect(tree.byId.get('d000000000000001')!.kind).toBe('inferred');
    expect(tree.byId.get('c000000000000001')!.kind).toBe('segment');
  });

  it('attributes subsegments to their service', () => {
    expect(tree.byId.get('f000000000000005')!.service).toBe('notify');
    expect(tree.byId.get('b000000000000011')!.service).toBe('api');
    expect(tree.byId.get('c000000000000002')!.service).toBe('backend');
  });

  it('classifies fault > throttle > error > ok, flags before HTTP status', () => {
    const st = (id: string) => tree.byId.get(id)!.status;
    expect(st('a000000000000001')).toBe('fault');
    expect(st('b000000000000005')).toBe('throttle');
    expect(st('c000000000000002')).toBe('error');
    expect(st('b000000000000001')).toBe('ok');
    expect(entityStatus({ http: { response: { status: 503 } } })).toBe('fault');
    expect(entityStatus({ http: { response: { status: 429 } } })).toBe('throttle');
    expect(entityStatus({ http: { response: { status: 404 } } })).toBe('error');
    expect(entityStatus({ fault: true, http: { response: { status: 400 } } })).toBe('fault');
  });

  it('extends in-progress entities to the end of the trace', () => {
    const cache = tree.byId.get('b000000000000006')!;
    expect(cache.inProgress).toBe(true);
    expect(cache.end).toBeCloseTo(T + 0.25, 6);
    expect(tree.start).toBeCloseTo(T, 6);
    expect(tree.end).toBeCloseTo(T + 0.25, 6);
  });

  it('flattens depth-first in start order and honours collapsing', () => {
    const rows = flatten(tree, new Set());
    expect(rows).toHaveLength(18);
    expect(rows.map((r) => r.index)).toEqual(rows.map((_, i) => i));
    expect(rows.slice(0, 4).map((r) => [r.entity.name, r.depth])).toEqual([
      ['api', 0],
      ['DynamoDB', 1],
      ['marshal', 2],
      ['orders', 2],
    ]);
    // Children start no earlier than their parent row.
    for (let i = 1; i < rows.length; i++) {
      if (rows[i]!.depth > rows[i - 1]!.depth) expect(rows[i]!.entity.start).toBeGreaterThanOrEqual(rows[i - 1]!.entity.start - 1e-9);
    }
    const collapsed = toggle(new Set(), 'b000000000000001');
    const rows2 = flatten(tree, collapsed);
    expect(rows2).toHaveLength(16);
    expect(rows2[1]!.collapsed).toBe(true);
    expect(toggle(collapsed, 'b000000000000001').size).toBe(0);
    expect(flatten(tree, collapseFrom(tree, 0))).toHaveLength(1);
    const depth1 = flatten(tree, collapseFrom(tree, 1));
    expect(depth1.every((r) => r.depth <= 1)).toBe(true);
    expect(depth1).toHaveLength(7);
  });

  it('exposes exceptions and a raw document without nested rows', () => {
    const api = tree.byId.get('a000000000000001')!;
    const ex = exceptions(api);
    expect(ex.list[0]!.message).toBe('payment backend failed');
    expect(ex.list[0]!.stack).toHaveLength(2);
    const own = ownDocument(api);
    expect(JSON.stringify(own)).not.toContain('marshal');
    expect(own.subsegments).toHaveLength(1);
    expect(exceptions({ ...api, doc: { cause: 'abcdefghijklmnop' } }).ref).toBe('abcdefghijklmnop');
  });
});

describe('golden segment documents', () => {
  const golden = goldenSegments();
  it('has documents to check', () => {
    expect(golden.length).toBeGreaterThanOrEqual(10);
  });
  for (const { file, doc } of golden) {
    it(`builds rows for ${file.split('/').slice(-2).join('/')}`, () => {
      const tree = buildTree([doc]);
      const n = countEntities(doc);
      const rows = flatten(tree, new Set());
      // Duplicate subsegment ids would collapse into one row; the real captures have none.
      expect(rows.length).toBeLessThanOrEqual(n);
      expect(rows.length).toBe(tree.size);
      expect(rows[0]!.entity.id).toBe(doc.id);
      for (const r of rows) {
        expect(r.entity.end).toBeGreaterThanOrEqual(r.entity.start);
        expect(Number.isFinite(r.entity.start)).toBe(true);
      }
    });
  }
  it('reads the DynamoDB capture with its deep tree and faulted PutItem', () => {
    const ddb = golden.find((g) => g.file.endsWith('ddbSample.txt'))!;
    const tree = buildTree([ddb.doc]);
    expect(tree.size).toBe(countEntities(ddb.doc));
    const rows = flatten(tree, new Set());
    expect(Math.max(...rows.map((r) => r.depth))).toBeGreaterThanOrEqual(3);
    const put = rows.find((r) => r.entity.doc.aws?.['operation'] === 'PutItem');
    expect(put?.entity.status).toBe('fault');
    expect(rows[0]!.entity.status).toBe('fault');
  });
});

describe('buildTree edge cases', () => {
  it('keeps the complete version of a document sent twice', () => {
    const tree = buildTree([
      { id: 'a1', name: 's', trace_id: '1-x', start_time: T, in_progress: true },
      { id: 'a1', name: 's', trace_id: '1-x', start_time: T, end_time: T + 1, subsegments: [{ id: 'b1', name: 'x', start_time: T, end_time: T + 0.5 }] },
    ]);
    expect(tree.size).toBe(2);
    expect(tree.roots[0]!.inProgress).toBe(false);
  });

  it('does not loop on parent cycles', () => {
    const tree = buildTree([
      { id: 'a1', name: 'a', parent_id: 'bs', start_time: T, end_time: T + 1, subsegments: [{ id: 'as', name: 'x', start_time: T, end_time: T + 1 }] },
      { id: 'b1', name: 'b', parent_id: 'as', start_time: T, end_time: T + 1, subsegments: [{ id: 'bs', name: 'y', start_time: T, end_time: T + 1 }] },
    ]);
    expect(tree.size).toBe(4);
    expect(flatten(tree, new Set())).toHaveLength(4);
  });

  it('nests an independent subsegment under its parent and takes its service', () => {
    const tree = buildTree([
      { id: 'a1', name: 'svc', trace_id: '1-x', start_time: T, end_time: T + 1 },
      { id: 's1', name: 'call', type: 'subsegment', trace_id: '1-x', parent_id: 'a1', start_time: T + 0.1, end_time: T + 0.2 },
    ]);
    expect(tree.roots).toHaveLength(1);
    expect(tree.roots[0]!.children[0]!.service).toBe('svc');
  });

  it('survives missing and odd fields', () => {
    const tree = buildTree([{ name: 5 } as unknown as SegmentDoc, { id: 'x', start_time: 'soon' } as unknown as SegmentDoc]);
    expect(tree.size).toBe(2);
    for (const r of flatten(tree, new Set())) expect(Number.isFinite(r.entity.start)).toBe(true);
  });

  it('handles 10,000 subsegments and very deep nesting', () => {
    const subs: SegmentDoc[] = [];
    for (let i = 0; i < 10000; i++) {
      subs.push({ id: `s${i}`, name: `call-${i % 7}`, start_time: T + i * 1e-4, end_time: T + i * 1e-4 + 5e-5, fault: i % 97 === 0 });
    }
    const big = buildTree([{ id: 'root', name: 'big', trace_id: '1-x', start_time: T, end_time: T + 1.01, subsegments: subs }]);
    expect(big.size).toBe(10001);
    const rows = flatten(big, new Set());
    expect(rows).toHaveLength(10001);
    expect(flatten(big, new Set(['root']))).toHaveLength(1);

    let deep: SegmentDoc = { id: 'leaf', name: 'leaf', start_time: T, end_time: T + 1 };
    for (let i = 0; i < 400; i++) deep = { id: `d${i}`, name: 'n', start_time: T, end_time: T + 1, subsegments: [deep] };
    const tree = buildTree([{ ...deep, trace_id: '1-x' }]);
    expect(tree.problems.some((p) => p.includes('deeper than 256'))).toBe(true);
    expect(flatten(tree, new Set()).length).toBe(tree.size);
  });
});

describe('scale, ruler and window', () => {
  it('maps time to x linearly', () => {
    const s = timeScale(T, T + 2, 1000);
    expect(s.x(T)).toBe(0);
    expect(s.x(T + 1)).toBeCloseTo(500);
    expect(s.w(T, T + 0.0001)).toBe(1); // minimum width
    expect(s.w(T, T + 1)).toBeCloseTo(500);
    expect(timeScale(T, T, 100).x(T)).toBe(0);
  });

  it('picks 1-2-5 ruler steps', () => {
    expect(rulerTicks(1).map((t) => t.label)).toEqual(['0 ms', '200 ms', '400 ms', '600 ms', '800 ms', '1000 ms']);
    expect(rulerTicks(0.25, 5).map((t) => t.offset)).toEqual([0, 0.05, 0.1, 0.15, 0.2, 0.25].map((x) => expect.closeTo(x, 9)));
    expect(rulerTicks(12).at(-1)!.label).toBe('12 s');
    expect(rulerTicks(25).map((t) => t.label)).toEqual(['0 s', '5 s', '10 s', '15 s', '20 s', '25 s']);
    expect(rulerTicks(0)).toHaveLength(1);
    expect(formatOffset(0.0005, 0.0001)).toBe('500 µs');
  });

  it('windows rows with overscan', () => {
    expect(visibleWindow(0, 300, 20, 10000, 5)).toEqual({ first: 0, last: 20 });
    expect(visibleWindow(2000, 300, 20, 10000, 5)).toEqual({ first: 95, last: 120 });
    expect(visibleWindow(1e9, 300, 20, 100, 5)).toEqual({ first: 50000000 - 5, last: 50000000 - 5 });
    expect(visibleWindow(0, 300, 20, 0)).toEqual({ first: 0, last: 0 });
  });
});
