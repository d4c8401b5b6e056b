// `tilevm patnet classify|convert` through runPatnetCli: the classify output against running the
// model directly on the same preprocessed image, convert round trips, and the error paths.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliIo, runPatnetCli } from '../../patnet/cli/index.js';
import { topK } from '../../patnet/cli/topk.js';
import { decodeImage, preprocessImage } from '../../patnet/image/index.js';
import { IMAGENET_CLASSES } from '../../patnet/imagenet-classes.js';
import { loadPatnet, patnetConfig, randomWeights } from '../../patnet/index.js';
import { readSafetensors } from '../../patnet/weights/safetensors.js';
import { writeSafetensors } from '../../patnet/weights/safetensors-writer.js';
import type { WeightMap } from '../../patnet/weights/types.js';
import { createDevice } from '../../runtime/index.js';
import { f32Storage, i64Storage, type PyLike, TorchTensor, torchSave } from './pth-writer.js';

const IMAGE = fileURLToPath(new URL('../demo/assets/chelsea.jpg', import.meta.url));
const FIXTURE = fileURLToPath(
  new URL('../../../shared/fixtures/patnet/patnet_t0.weights.safetensors', import.meta.url),
);
const dir = mkdtempSync(join(tmpdir(), 'tilevm-patnet-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Seeded random T0 weights, made once (generating them takes a second or two). */
let randomT0: WeightMap | undefined;
function randomT0Weights(): WeightMap {
  randomT0 ??= randomWeights(patnetConfig('t0'), 3);
  return new Map(randomT0);
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await runPatnetCli(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The weights as a .pth file laid out like torch.save(model.state_dict()), with BN counters. */
function asPth(weights: WeightMap): Uint8Array {
  const sd = new Map<string, PyLike>();
  for (const [name, t] of weights) {
    sd.set(name, new TorchTensor(f32Storage(t.data), [...t.shape]));
    if (name.endsWith('.running_var')) {
      sd.set(name.replace(/running_var$/, 'num_batches_tracked'), new TorchTensor(i64Storage([0]), []));
    }
  }
  return torchSave({ model: sd, epoch: 299 });
}

describe('tilevm patnet classify', () => {
  // The fixture's weights when ../shared is there; otherwise seeded random T0 weights as a file.
  const weightsFile = existsSync(FIXTURE)
    ? FIXTURE
    : (() => {
        const p = join(dir, 'random-t0.safetensors');
        writeFileSync(p, writeSafetensors(randomT0Weights()));
        return p;
      })();

  it('prints the same top-5 (and top-1) as running the model directly; .pth weights give the same', async () => {
    const weights = readSafetensors(new Uint8Array(readFileSync(weightsFile))).tensors;
    const device = await createDevice({ backend: 'wasm' });
    let direct: ReturnType<typeof topK>;
    try {
      const model = await loadPatnet({ variant: 't0', weights, device });
      const pixels = preprocessImage(decodeImage(new Uint8Array(readFileSync(IMAGE))));
      const logits = await model.run({ data: pixels, shape: [1, 3, 224, 224] });
      direct = topK(logits.data, 5);
      model.destroy();
    } finally {
      device.destroy();
    }
    const r = await cli('classify', IMAGE, '--weights', weightsFile, '--top', '5');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.split('\n').filter((l) => /^\s+\d+\.\s/.test(l));
    expect(lines).toHaveLength(5);
    for (let i = 0; i < 5; i++) {
      const m = /^\s+\d+\.\s+(\d+) (.+?)\s+([\d.]+)%$/.exec(lines[i]!)!;
      expect(Number(m[1]), `rank ${i + 1}`).toBe(direct[i]!.index);
      expect(m[2]).toBe(IMAGENET_CLASSES[direct[i]!.index]);
      expect(Number(m[3])).toBeCloseTo(direct[i]!.probability * 100, 1);
    }
    expect(r.out).not.toMatch(/untrained/);

    const pth = join(dir, 'weights.pth');
    writeFileSync(pth, asPth(weights));
    const r2 = await cli('classify', IMAGE, '--weights', pth, '--top', '5');
    expect(r2.code).toBe(0);
    expect(r2.out).toMatch(/took the state_dict from checkpoint\['model'\]/);
    expect(r2.out.split('\n').filter((l) => /^\s+\d+\.\s/.test(l))).toEqual(lines);
  });

  it('without --weights says the result comes from untrained weights', async () => {
    const r = await cli('classify', IMAGE, '--top', '2');
    expect(r.code).toBe(0);
    expect(r.out.split('\n').filter((l) => /^\s+\d+\.\s/.test(l))).toHaveLength(2);
    expect(r.out).toMatch(/untrained \(seeded random\) weights: the labels are meaningless/);
  });

  it('a missing image, an image that is not one, missing and corrupt weights: exit 1 with the reason', async () => {
    const missing = await cli('classify', join(dir, 'nope.jpg'));
    expect([missing.code, missing.err]).toEqual([
      1,
      expect.stringMatching(/cannot read image .*nope\.jpg: ENOENT/),
    ]);

    const notImage = join(dir, 'x.png');
    writeFileSync(notImage, 'hello');
    expect((await cli('classify', notImage)).err).toMatch(/x\.png: not a JPEG or PNG file/);

    expect((await cli('classify', IMAGE, '--weights', join(dir, 'none.safetensors'))).err).toMatch(
      /cannot read weights file .*none\.safetensors: ENOENT/,
    );
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, readFileSync(weightsFile).subarray(0, 100_000));
    const rc = await cli('classify', IMAGE, '--weights', cut);
    expect(rc.code).toBe(1);
    expect(rc.err).toMatch(/cut\.safetensors/);
    const cutPth = join(dir, 'cut.pth');
    writeFileSync(cutPth, asPth(randomT0Weights()).subarray(0, 50_000));
    expect((await cli('classify', IMAGE, '--weights', cutPth)).err).toMatch(
      /cut\.pth: the zip archive is corrupt or truncated/,
    );
    // Right format, wrong tensor: the model's own check names it.
    const bad = randomT0Weights();
    bad.set('head.weight', {
      dtype: 'f32',
      shape: [999, 1280],
      data: new Float32Array(999 * 1280).fill(0.5),
    });
    const badFile = join(dir, 'bad-shape.safetensors');
    writeFileSync(badFile, writeSafetensors(bad));
    const wrong = await cli('classify', IMAGE, '--weights', badFile);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/head\.weight/);
  });

  it('bad flags: exit 2 with the usage', async () => {
    for (const [argv, msg] of [
      [['classify'], /expected 1 argument/],
      [['classify', IMAGE, '--bogus'], /--bogus/],
      [['classify', IMAGE, '--backend', 'cuda'], /--backend must be wasm or webgpu/],
      [['classify', IMAGE, '--top', '0'], /--top must be an integer from 1 to 1000/],
      [['classify', IMAGE, '--top', 'five'], /--top must be/],
      [['classify', IMAGE, '--variant', 'xl'], /--variant: unknown variant 'xl'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['convert', 'a.pth'], /expected 2 argument/],
      [['convert', 'a.pth', 'b.bin'], /should end in \.safetensors/],
    ] as const) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.err).toMatch(/usage:/);
    }
    expect((await cli('help')).code).toBe(0);
  });
});

describe('tilevm patnet convert', () => {
  it('a torch.save checkpoint becomes safetensors with every float tensor bit for bit', async () => {
    const weights = randomT0Weights();
    const pth = join(dir, 'ckpt.pth');
    const out = join(dir, 'ckpt.safetensors');
    writeFileSync(pth, asPth(weights));
    const r = await cli('convert', pth, out, '--variant', 't0');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`wrote .*ckpt\\.safetensors: ${weights.size} float32 tensors`));
    expect(r.out).toMatch(/skipped \d+ non-float tensor\(s\) \(.*num_batches_tracked/);
    const back = readSafetensors(new Uint8Array(readFileSync(out)));
    expect(back.metadata.source).toBe('ckpt.pth');
    expect([...back.tensors.keys()]).toEqual([...weights.keys()]);
    for (const [name, t] of weights) {
      const b = back.tensors.get(name)!;
      expect(b.shape, name).toEqual(t.shape);
      expect(
        Buffer.compare(
          Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength),
          Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
        ),
        name,
      ).toBe(0);
    }
  });

  it('--variant checks the tensors: a missing or misshapen one is named', async () => {
    const weights = randomT0Weights();
    weights.delete('head.bias');
    const pth = join(dir, 'partial.pth');
    writeFileSync(pth, asPth(weights));
    const r = await cli('convert', pth, join(dir, 'partial.safetensors'), '--variant', 't0');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/head\.bias/);
    expect(existsSync(join(dir, 'partial.safetensors'))).toBe(false);
  });
});
