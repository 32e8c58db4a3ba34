import { describe, expect, it } from 'vitest';
import type { TraceSummary } from '../api/types';
import { entryPoint, sortSummaries, summaryStatus } from './sort';

const list: TraceSummary[] = [
  { Id: '1-00000002-b', StartTime: 2, ResponseTime: 0.3, Http: { HttpStatus: 500, HttpMethod: 'POST', HttpURL: 'http://b' }, EntryPoint: { Name: 'b' }, HasFault: true },
  { Id: '1-00000003-a', StartTime: 3, ResponseTime: 0.1, Http: { HttpStatus: 200, HttpMethod: 'GET', HttpURL: 'http://a' }, ServiceIds: [{ Name: 'a' }] },
  { Id: '1-00000001-c', StartTime: 1, Duration: 0.2, Http: { HttpStatus: 429 }, HasError: true, HasThrottle: true },
];

describe('sortSummaries', () => {
  const ids = (l: TraceSummary[]) => l.map((t) => t.Id);
  it.each([
    ['id', true, ['1-00000001-c', '1-00000002-b', '1-00000003-a']],
    ['age', true, ['1-00000003-a', '1-00000002-b', '1-00000001-c']],
    ['age', false, ['1-00000001-c', '1-00000002-b', '1-00000003-a']],
    ['response', true, ['1-00000003-a', '1-00000001-c', '1-00000002-b']],
    ['status', false, ['1-00000002-b', '1-00000001-c', '1-00000003-a']],
    ['entry', true, ['1-00000001-c', '1-00000003-a', '1-00000002-b']],
    ['method', true, ['1-00000001-c', '1-00000003-a', '1-00000002-b']],
  ] as const)('by %s ascending=%s', (key, asc, want) => {
    expect(ids(sortSummaries(list, key, asc))).toEqual(want);
  });
  it('does not modify its input and classifies status', () => {
    const copy = [...list];
    sortSummaries(list, 'id', false);
    expect(list).toEqual(copy);
    expect(list.map(summaryStatus)).toEqual(['fault', 'ok', 'throttle']);
    expect(list.map(entryPoint)).toEqual(['b', 'a', '']);
  });
});
