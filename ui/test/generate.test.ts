import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixturesDir } from './fixtures';
import { generateGraph } from './generate';

// The e2e benchmark (plain Node, no TypeScript) serves this committed file;
// UPDATE_FIXTURES=1 npm test rewrites it.
describe('graph-200x400.json', () => {
  it('is the generator output for 200 nodes and 400 edges', () => {
    const file = join(fixturesDir, 'graph-200x400.json');
    const want = JSON.stringify(generateGraph(200, 400, 7));
    if (process.env['UPDATE_FIXTURES']) writeFileSync(file, want + '\n');
    expect(readFileSync(file, 'utf8').trim()).toBe(want);
    const g = JSON.parse(want) as ReturnType<typeof generateGraph>;
    expect(g.Services).toHaveLength(200);
    expect(g.Services!.reduce((n, s) => n + (s.Edges?.length ?? 0), 0)).toBe(400);
  });
});
