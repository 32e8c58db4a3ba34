import { describe, expect, it } from 'vitest';
import { seriesColumns } from './series';

describe('seriesColumns', () => {
  it('sorts, sums duplicates and prefers edge statistics', () => {
    const c = seriesColumns([
      { Timestamp: 120, ServiceSummaryStatistics: { OkCount: 5, TotalCount: 6, FaultStatistics: { TotalCount: 1 } } },
      { Timestamp: 60, EdgeSummaryStatistics: { OkCount: 2, TotalCount: 3, ErrorStatistics: { ThrottleCount: 1, TotalCount: 1 } }, ServiceSummaryStatistics: { OkCount: 99 } },
      { Timestamp: 120, ServiceSummaryStatistics: { OkCount: 1, TotalCount: 2, ErrorStatistics: { OtherCount: 1, TotalCount: 1 } } },
      {},
    ]);
    expect(c).toEqual({ t: [60, 120], ok: [2, 6], error: [0, 1], throttle: [1, 0], fault: [0, 1] });
  });

  it('fills the periods of the window without a point with zeros', () => {
    const c = seriesColumns(
      [{ Timestamp: 120, ServiceSummaryStatistics: { OkCount: 3, TotalCount: 3 } }],
      { start: 60, end: 300, period: 60 },
    );
    expect(c.t).toEqual([60, 120, 180, 240]);
    expect(c.ok).toEqual([0, 3, 0, 0]);
    expect(c.fault).toEqual([0, 0, 0, 0]);
  });
});
