// Web Worker running the dagre layout off the main thread.
// Message in: { id, input: LayoutInput }; message out: { id, layout: Layout } or { id, error }.
import * as dagre from '@dagrejs/dagre';
import { computeLayout, type DagreLike, type LayoutInput } from './layout';

interface Request {
  id: number;
  input: LayoutInput;
}

const scope = self as unknown as {
  onmessage: ((ev: MessageEvent<Request>) => void) | null;
  postMessage(msg: unknown): void;
};

scope.onmessage = (ev) => {
  const { id, input } = ev.data;
  try {
    scope.postMessage({ id, layout: computeLayout(input, dagre as unknown as DagreLike) });
  } catch (e) {
    scope.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
};
