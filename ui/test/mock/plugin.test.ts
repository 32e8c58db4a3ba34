import { describe, expect, it } from 'vitest';
import type { TraceSummary } from '../../src/api/types';
import { mockFilter } from './plugin';

// The mock back-end's toy filter must answer like the real parser for the cases
// the e2e harness exercises (positions are byte offsets at the end of the message).
describe('mockFilter', () => {
  const t: TraceSummary = { Id: '1', HasFault: true, EntryPoint: { Name: 'api' }, ServiceIds: [{ Name: 'api' }, { Name: 'db' }] };
  it.each([
    ['', true],
    ['fault', true],
    ['ok', false],
    ['service("db")', true],
    ['service("x")', false],
    ['service(id(name: "api", type: "AWS::EC2::Instance"))', true],
    ['service("api") { root = true }', true],
    ['edge("api", "db")', true],
    ['edge(id(name: "api", type: "t"), "x")', false],
  ])('%s matches: %s', (expr, want) => {
    const f = mockFilter(expr);
    expect('match' in f && f.match(t)).toBe(want);
  });
  it.each([
    ['service("api") { fault', 'at 22'],
    ['service("api"', 'at 13'],
    ['"zoë', 'at 5'],
    ['bogus', 'at 0'],
  ])('rejects %s %s', (expr, pos) => {
    const f = mockFilter(expr);
    expect('error' in f && f.error.endsWith(pos)).toBe(true);
  });
});
