// Timing: variants run interleaved (one call of each per round, in a rotating order) so slow
// periods of the machine hit every variant alike; a warm-up of seconds first (V8 tiers up wasm in
// the background), then rounds until a repetition count or a time budget is reached. Reports the
// median and the 10th percentile of each variant's per-call times.

export interface Variant {
  readonly name: string;
  /** One call, finished when the promise resolves. */
  readonly run: () => Promise<void> | void;
  /** Untimed work just before each timed run (e.g. calls that bring the thread to a steady state). */
  readonly prepare?: () => Promise<void> | void;
  /**
   * A timed run that reports its own time in ms, used instead of timing `run` (e.g. a run in
   * another process, timed there: browser-llm.ts times Node's GEMV between the page's variants).
   */
  readonly timed?: () => Promise<number>;
}

export interface Timing {
  readonly name: string;
  readonly median: number;
  readonly p10: number;
  readonly samples: number;
}

export interface TimingOptions {
  /** Warm-up time over all variants, ms. */
  readonly warmupMs: number;
  /** Rounds to run at most. */
  readonly reps: number;
  /** Time budget for the measured rounds, ms (at least 5 rounds run). */
  readonly budgetMs: number;
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo);
}

export async function measure(variants: readonly Variant[], opts: TimingOptions): Promise<Timing[]> {
  const warmEnd = performance.now() + opts.warmupMs;
  do {
    for (const v of variants) await v.run();
  } while (performance.now() < warmEnd);
  const times: number[][] = variants.map(() => []);
  const end = performance.now() + opts.budgetMs;
  for (let r = 0; r < opts.reps; r++) {
    for (let j = 0; j < variants.length; j++) {
      const i = (j + r) % variants.length;
      const v = variants[i]!;
      await v.prepare?.();
      if (v.timed) {
        times[i]!.push(await v.timed());
        continue;
      }
      const t0 = performance.now();
      await v.run();
      times[i]!.push(performance.now() - t0);
    }
    if (r >= 4 && performance.now() > end) break;
  }
  return variants.map((v, i) => {
    const s = [...times[i]!].sort((a, b) => a - b);
    return { name: v.name, median: quantile(s, 0.5), p10: quantile(s, 0.1), samples: s.length };
  });
}

/**
 * `v` called `calls` times back to back per timed run, after `warm` untimed calls (the steady state
 * of a loop of calls); divide its Timing back with `perCall`.
 */
export function inSequence<V extends Variant>(v: V, calls: number, warm = 0): V & Pick<Variant, 'prepare'> {
  const repeat = (n: number) => async () => {
    for (let i = 0; i < n; i++) await v.run();
  };
  return { ...v, run: repeat(calls), ...(warm > 0 ? { prepare: repeat(warm) } : {}) };
}

/** A Timing of runs of `calls` calls, per call. */
export function perCall(t: Timing, calls: number): Timing {
  return { ...t, median: t.median / calls, p10: t.p10 / calls };
}
