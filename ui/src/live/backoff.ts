// Reconnect delays: exponential backoff with "full jitter" (a random delay
// between half and all of the capped exponential step).

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export const defaultBackoff: BackoffOptions = { baseMs: 500, maxMs: 30_000 };

/** Delay before reconnect attempt number `attempt` (0-based). `random` returns [0, 1). */
export function backoffDelay(attempt: number, random: () => number = Math.random, o: BackoffOptions = defaultBackoff): number {
  const step = Math.min(o.maxMs, o.baseMs * Math.pow(2, Math.max(0, Math.min(attempt, 30))));
  return Math.round(step / 2 + random() * (step / 2));
}
