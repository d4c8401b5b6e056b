import { describe, expect, it } from 'vitest';
import { inSequence, measure, perCall } from './timing.js';

describe('bench timing', () => {
  it('inSequence makes one timed run of several calls, and perCall divides the times back', async () => {
    let calls = 0;
    const v = inSequence({ name: 'v', run: () => void calls++ }, 4);
    const [t] = await measure([v], { warmupMs: 0, reps: 5, budgetMs: 0 });
    // The warm-up runs once, then 5 rounds: 6 runs of 4 calls.
    expect(calls).toBe(24);
    expect(v.prepare).toBeUndefined();
    expect(t!.samples).toBe(5);
    const per = perCall({ name: 'v', median: 8, p10: 6, samples: 5 }, 4);
    expect(per).toEqual({ name: 'v', median: 2, p10: 1.5, samples: 5 });
  });

  it('untimed warm calls run before each timed run, outside the timer', async () => {
    const log: string[] = [];
    let slow = false;
    const v = inSequence({ name: 'v', run: () => void log.push(slow ? 'warm' : 'timed') }, 2, 3);
    const timed = {
      ...v,
      prepare: async () => {
        slow = true;
        await v.prepare!();
        // A slow untimed step: the timer must not see it.
        await new Promise((res) => setTimeout(res, 30));
        slow = false;
      },
    };
    const [t] = await measure([timed], { warmupMs: 0, reps: 5, budgetMs: 0 });
    // 5 rounds, each 3 warm calls then 2 timed ones (the untimed warm-up round has no prepare).
    expect(log.filter((x) => x === 'warm')).toHaveLength(15);
    expect(log.slice(2, 7)).toEqual(['warm', 'warm', 'warm', 'timed', 'timed']);
    expect(t!.median).toBeLessThan(30);
  });

  it('a variant that times itself reports its own figure, interleaved with the others', async () => {
    const order: string[] = [];
    const remote = {
      name: 'remote',
      run: () => void order.push('remote warm-up'),
      // A slow round trip whose own figure is 2 ms: the timer must take the figure, not the wait.
      timed: async () => {
        order.push('remote');
        await new Promise((res) => setTimeout(res, 30));
        return 2;
      },
    };
    const local = { name: 'local', run: () => void order.push('local') };
    const [r, l] = await measure([remote, local], { warmupMs: 0, reps: 4, budgetMs: 0 });
    expect(r).toEqual({ name: 'remote', median: 2, p10: 2, samples: 4 });
    expect(l!.samples).toBe(4);
    expect(l!.median).toBeLessThan(30);
    // One untimed warm-up round, then rounds in a rotating order.
    expect(order).toEqual([
      'remote warm-up',
      'local',
      'remote',
      'local',
      'local',
      'remote',
      'remote',
      'local',
      'local',
      'remote',
    ]);
  });
});
