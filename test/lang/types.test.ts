// The signature's types flow into launch arguments: a wrong param name or dtype is a TypeScript
// error. `npm run typecheck` checks every @ts-expect-error below (an unused one fails tsc), and
// vitest's expectTypeOf checks the inferred types.
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  createInterpreterDevice,
  type FloatDType,
  f16,
  f32,
  global,
  type IntDType,
  i32,
  type KernelArgs,
  kernel,
  Tensor,
  u4,
} from '../../dsl/index.js';

const scale = kernel({
  name: 'scale',
  params: { x: global(f32, ['N']), w: global(u4, ['N']), y: global(f32, ['N'], 'write'), alpha: f32, n: i32 },
  consts: { B: [4, 8] },
})`
  grid(cdiv(N, B));
  const o = blockIdx.x * B;
  store(y, [o], load(x, [o], [B]) * load(w, [o], [B]).to(f32) * alpha);
`;

const x = Tensor.fromArray(f32, [6], [1, 2, 3, 4, 5, 6]);
const w = Tensor.fromArray(u4, [6], [1, 1, 2, 2, 3, 3]);
const y = Tensor.zeros(f32, [6]);

describe('typed launch arguments', () => {
  it('infers one tensor type per param and number for scalars', () => {
    type Args = KernelArgs<typeof scale.signature.params>;
    expectTypeOf<Args['x']>().toEqualTypeOf<Tensor<FloatDType<'f32'>>>();
    expectTypeOf<Args['w']>().toEqualTypeOf<Tensor<IntDType<'u4'>>>();
    expectTypeOf<Args['alpha']>().toEqualTypeOf<number>();
  });

  it('accepts exactly the params, each with its dtype', async () => {
    scale.interpret({ x, w, y, alpha: 2, n: 6 });
    expect(y.toArray()).toEqual([2, 4, 12, 16, 30, 36]);
    await scale.launch(createInterpreterDevice(), { x, w, y, alpha: 1, n: 6 }, { consts: { B: 8 } });
    expect(y.toArray()).toEqual([1, 2, 6, 8, 15, 18]);
  });

  it('rejects wrong names, dtypes, missing and extra params at compile time', async () => {
    const device = createInterpreterDevice();
    const run = (f: () => unknown) => expect(f).toThrow();
    // @ts-expect-error x must be an f32 tensor, not f16
    run(() => scale.interpret({ x: Tensor.zeros(f16, [6]), w, y, alpha: 1, n: 6 }));
    // @ts-expect-error w is missing
    run(() => scale.interpret({ x, y, alpha: 1, n: 6 }));
    // @ts-expect-error q is not a param
    run(() => scale.interpret({ x, w, y, alpha: 1, n: 6, q: 1 }));
    // @ts-expect-error alpha is a scalar param: a number, not a tensor
    run(() => scale.interpret({ x, w, y, alpha: x, n: 6 }));
    // @ts-expect-error the launch arguments are checked the same way
    await expect(scale.launch(device, { x, w: Tensor.zeros(f32, [6]), y, alpha: 1, n: 6 })).rejects.toThrow(
      /is f32, but/,
    );
    // @ts-expect-error unknown const
    run(() => scale.compile({ C: 4 }));
  });
});
