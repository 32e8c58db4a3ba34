import { describe, expect, it } from 'vitest';
import { buildTree, flatten } from './model';
import { minimapBars } from './minimap';

describe('minimapBars', () => {
  it('scales rows into the box', () => {
    const T = 1700000000;
    const tree = buildTree([
      { id: 'a', name: 'a', trace_id: '1-x', start_time: T, end_time: T + 1, subsegments: [{ id: 'b', name: 'b', start_time: T + 0.5, end_time: T + 1, fault: true }] },
    ]);
    const bars = minimapBars(flatten(tree, new Set()), tree.start, tree.end, 200, 40);
    expect(bars).toHaveLength(2);
    expect(bars[0]).toMatchObject({ x: 0, y: 0, w: 200, status: 'ok' });
    expect(bars[1]!.x).toBeCloseTo(100);
    expect(bars[1]!.y).toBeCloseTo(20);
    expect(bars[1]!.status).toBe('fault');
    expect(minimapBars([], 0, 1, 100, 10)).toEqual([]);
  });
});
