// Main-thread side of the layout worker: one worker, promise per request.
import type { Layout, LayoutInput } from './layout';

let worker: Worker | undefined;
let seq = 0;
const pending = new Map<number, { resolve: (l: Layout) => void; reject: (e: Error) => void }>();

function getWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL('./layout.worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (ev: MessageEvent<{ id: number; layout?: Layout; error?: string }>) => {
      const p = pending.get(ev.data.id);
      if (!p) return;
      pending.delete(ev.data.id);
      if (ev.data.layout) p.resolve(ev.data.layout);
      else p.reject(new Error(ev.data.error ?? 'layout failed'));
    };
    worker.onerror = (ev) => {
      for (const p of pending.values()) p.reject(new Error(ev.message || 'layout worker failed'));
      pending.clear();
      worker?.terminate();
      worker = undefined;
    };
  }
  return worker;
}

/** Lays the graph out in the worker. */
export function layoutInWorker(input: LayoutInput): Promise<Layout> {
  const id = ++seq;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    getWorker().postMessage({ id, input });
  });
}

/** Starts the worker ahead of the first layout (overlaps its start-up with the data fetch). */
export function prewarmLayoutWorker(): void {
  getWorker();
}
