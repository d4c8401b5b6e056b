// `tilevm patnet ...`: classify an image with PATNet, or convert a PyTorch checkpoint to
// safetensors. plugin/cli/main.ts hands everything after `patnet` to runPatnetCli; it returns the
// process exit code (0 ok, 1 failed, 2 bad usage) and never calls process.exit itself.
import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { decodeImage, preprocessImage } from '../image/index.js';
import { writeSafetensors } from '../weights/safetensors-writer.js';
import { formatPredictions, topK } from './topk.js';
import { loadWeightsFile } from './weights-file.js';

export const PATNET_USAGE = `usage:
  tilevm patnet classify <image.jpg|png> [--variant t0] [--weights file] [--backend wasm|webgpu] [--top 5]
                         [--weight-storage f32|f16]
      Classifies a photo (resize shorter side to 256, centre crop 224, ImageNet normalisation) and
      prints the top-k ImageNet classes. --weights takes .safetensors or a PyTorch .pth/.pt
      checkpoint; without it the model runs on seeded random (untrained) weights.
      --weight-storage f16 keeps the weight matrices as f16 on the device (half the memory; the
      arithmetic stays f32).
  tilevm patnet convert <model.pth> <out.safetensors> [--variant t0]
      Writes a PyTorch checkpoint's state_dict as safetensors (float32). With --variant, first
      checks that every tensor PATNet needs is there with the right shape.
  tilevm patnet help`;

/** Where the CLI writes; tests capture it. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const consoleIo: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) };

class UsageError extends Error {}

export async function runPatnetCli(argv: string[], io: CliIo = consoleIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'classify':
        return await classify(rest, io);
      case 'convert':
        return await convert(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(PATNET_USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (e) {
    if (e instanceof UsageError || isParseArgsError(e)) {
      io.err(`tilevm patnet: ${(e as Error).message}\n${PATNET_USAGE}`);
      return 2;
    }
    io.err(`tilevm patnet: error: ${(e as Error).message}`);
    return 1;
  }
}

function isParseArgsError(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

function parse(args: string[], options: ParseArgsConfig['options'], positionals: string[]) {
  const r = parseArgs({ args, options, allowPositionals: true, strict: true });
  if (r.positionals.length !== positionals.length) {
    throw new UsageError(
      `expected ${positionals.length} argument(s) (${positionals.join(', ')}), got ${r.positionals.length}` +
        (r.positionals.length ? `: ${r.positionals.join(' ')}` : ''),
    );
  }
  return { values: r.values as Record<string, string | undefined>, positionals: r.positionals };
}

/** The variant's config; an unknown name is a usage error (exit 2), not a failure. */
function variantConfig<T>(patnetConfig: (v: string) => T, variant: string): T {
  try {
    return patnetConfig(variant);
  } catch (e) {
    throw new UsageError(`--variant: ${(e as Error).message.replace(/^PATNet: /, '')}`);
  }
}

async function classify(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      variant: { type: 'string', default: 't0' },
      weights: { type: 'string' },
      backend: { type: 'string', default: 'wasm' },
      top: { type: 'string', default: '5' },
      'weight-storage': { type: 'string', default: 'f32' },
    },
    ['image'],
  );
  const imagePath = positionals[0]!;
  const backend = values.backend!;
  if (backend !== 'wasm' && backend !== 'webgpu')
    throw new UsageError(`--backend must be wasm or webgpu, not '${backend}'`);
  const weightStorage = values['weight-storage']!;
  if (weightStorage !== 'f32' && weightStorage !== 'f16')
    throw new UsageError(`--weight-storage must be f32 or f16, not '${weightStorage}'`);
  const top = Number(values.top);
  if (!Number.isInteger(top) || top < 1 || top > 1000) {
    throw new UsageError(`--top must be an integer from 1 to 1000, not '${values.top}'`);
  }
  // The model (and the kernel compiler it pulls in) loads only when a command needs it.
  const { loadPatnet, patnetConfig } = await import('../index.js');
  const config = variantConfig(patnetConfig, values.variant!);

  let imageBytes: Uint8Array;
  try {
    imageBytes = new Uint8Array(await readFile(imagePath));
  } catch (e) {
    throw new Error(
      `cannot read image ${imagePath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const t0 = performance.now();
  const image = decodeImage(imageBytes, basename(imagePath));
  const pixels = preprocessImage(image, { crop: config.imageSize });
  const tPre = performance.now() - t0;

  const loaded = values.weights ? await loadWeightsFile(values.weights) : undefined;
  const { createDevice } = await import('../../runtime/index.js');
  const device =
    backend === 'wasm' ? await createDevice({ backend: 'wasm' }) : await createDevice({ backend: 'webgpu' });
  try {
    const t1 = performance.now();
    const model = await loadPatnet({
      variant: config.variant,
      weights: loaded?.weights,
      device,
      weightStorage,
    });
    const tLoad = performance.now() - t1;
    try {
      const t2 = performance.now();
      const out = await model.run({ data: pixels, shape: [1, 3, config.imageSize, config.imageSize] });
      const tRun = performance.now() - t2;
      const predictions = topK(out.data, top);
      io.out(
        `PATNet-${config.variant.toUpperCase()} on ${backend}, ${weightStorage} weight storage ` +
          `(${(model.weightBytes / 2 ** 20).toFixed(1)} MiB), ` +
          (values.weights
            ? `weights ${basename(values.weights)} (${loaded!.weights.size} tensors)`
            : 'no weights file'),
      );
      for (const note of loaded?.notes ?? []) io.out(`  (${note})`);
      io.out(
        `${basename(imagePath)}: ${image.width}x${image.height} -> ${config.imageSize}x${config.imageSize}`,
      );
      for (const line of formatPredictions(predictions)) io.out(line);
      if (model.untrained) {
        io.out(
          'NOTE: no --weights given, so these come from untrained (seeded random) weights: the labels are meaningless.',
        );
      }
      io.out(
        `time: decode+preprocess ${tPre.toFixed(0)} ms, load ${tLoad.toFixed(0)} ms, inference ${tRun.toFixed(1)} ms`,
      );
      return 0;
    } finally {
      model.destroy();
    }
  } finally {
    device.destroy();
  }
}

async function convert(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { variant: { type: 'string' } }, [
    'model.pth',
    'out.safetensors',
  ]);
  const [input, output] = positionals as [string, string];
  if (!/\.safetensors$/i.test(output))
    throw new UsageError(`the output file should end in .safetensors: ${output}`);
  const loaded = await loadWeightsFile(input);
  if (values.variant) {
    const { checkWeights, patnetConfig } = await import('../index.js');
    checkWeights(variantConfig(patnetConfig, values.variant), loaded.weights);
  }
  const bytes = writeSafetensors(loaded.weights, {
    format: 'pt',
    source: basename(input),
    converter: 'tilevm patnet convert',
  });
  try {
    await writeFile(output, bytes);
  } catch (e) {
    throw new Error(`cannot write ${output}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let params = 0;
  for (const t of loaded.weights.values()) params += t.data.length;
  io.out(
    `wrote ${output}: ${loaded.weights.size} float32 tensors, ${params.toLocaleString('en-US')} parameters, ${bytes.length.toLocaleString('en-US')} bytes` +
      (values.variant ? ` (checked against PATNet-${values.variant.toUpperCase()})` : ''),
  );
  for (const note of loaded.notes) io.out(`  (${note})`);
  return 0;
}
