// Loads golden X-Ray JSON for the unit tests.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BatchGetTracesResult, GetServiceGraphResult, SegmentDoc } from '../src/api/types';

const here = dirname(fileURLToPath(import.meta.url));
export const fixturesDir = join(here, 'fixtures');
/** The segment decoder's golden documents (helper "segment"), shared with the Go tests. */
export const segmentTestdataDir = join(here, '..', '..', 'collector', 'segment', 'testdata');

export function readJSON<T>(name: string): T {
  return JSON.parse(readFileSync(join(fixturesDir, name), 'utf8')) as T;
}

export const batchGetTraces = (): BatchGetTracesResult => readJSON<BatchGetTracesResult>('batchgettraces.json');
export const serviceGraph = (): GetServiceGraphResult => readJSON<GetServiceGraphResult>('servicegraph.json');

/** Strips the daemon header line ({"format":"json","version":1}) when present. */
export function stripDaemonHeader(text: string): string {
  const nl = text.indexOf('\n');
  if (nl < 0) return text;
  try {
    const head = JSON.parse(text.slice(0, nl)) as { format?: string };
    if (head && head.format === 'json') return text.slice(nl + 1);
  } catch {
    // not a header line
  }
  return text;
}

export interface GoldenDoc {
  file: string;
  doc: SegmentDoc;
}

/**
 * Segment documents: the copies in fixtures/segments plus every file under
 * collector/segment/testdata (recursively) that holds one JSON segment object
 * with an id. Files that are not JSON (or are deliberately broken) are left out.
 */
export function goldenSegments(): GoldenDoc[] {
  const out: GoldenDoc[] = [];
  const visit = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const ent of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, ent.name);
      if (ent.isDirectory()) {
        visit(p);
        continue;
      }
      if (!/\.(json|txt)$/.test(ent.name)) continue;
      let v: unknown;
      try {
        v = JSON.parse(stripDaemonHeader(readFileSync(p, 'utf8')));
      } catch {
        continue;
      }
      const docs = Array.isArray(v) ? v : [v];
      for (const d of docs) {
        if (d && typeof d === 'object' && typeof (d as SegmentDoc).id === 'string' && (d as SegmentDoc).start_time !== undefined) {
          out.push({ file: p, doc: d as SegmentDoc });
        }
      }
    }
  };
  visit(join(fixturesDir, 'segments'));
  visit(segmentTestdataDir);
  return out;
}

/** Counts a document and its embedded subsegments. */
export function countEntities(d: SegmentDoc): number {
  let n = 1;
  for (const s of d.subsegments ?? []) n += countEntities(s);
  return n;
}
