import { describe, expect, it } from 'vitest';
import { inSequence, measure, perCall } from './timing.js';

describe('bench timing', () => {
  it('inSequence makes one timed run of several calls, and perCall divides the times back', async () => {
    let calls = 0;
    const v = inSequence({ name: 'v', run: () => void calls++ }, 4);
    const [t] = await measure([v], { warmupMs: 0, reps: 5, budgetMs: 0 });
    // The warm-up runs once, then 5 rounds: 6 runs of 4 calls.
    expect(calls).toBe(24);
    expect(t!.samples).toBe(5);
    const per = perCall({ name: 'v', median: 8, p10: 6, samples: 5 }, 4);
    expect(per).toEqual({ name: 'v', median: 2, p10: 1.5, samples: 5 });
  });
});
