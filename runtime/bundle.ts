// Kernel bundles (.tvk, docs/bundle-format.md): every kernel and variant of a project in one file
// (a versioned JSON manifest, the WGSL texts and WASM modules as raw bytes, a SHA-256 integrity
// hash), written by `tilevm build` and loaded here with no compiler. A truncated, corrupted or
// wrong-version file is rejected with a KernelBundleError saying which.
import type { WasmArtifact, WgslArtifact } from '../dsl/artifact.js';
import { type PrecompiledKernel, type PrecompiledKernelData, precompiled } from './precompiled.js';

export const BUNDLE_MAGIC = 'TVKB';
export const BUNDLE_VERSION = 1;
/** magic (4) + version (4) + manifest length (4) + payload length (4) + SHA-256 (32). */
export const BUNDLE_HEADER_BYTES = 48;

export type KernelBundleProblem = 'truncated' | 'corrupted' | 'version' | 'format';

export class KernelBundleError extends Error {
  constructor(
    readonly problem: KernelBundleProblem,
    message: string,
  ) {
    super(`tilevm bundle ${problem === 'version' ? 'has the wrong version' : `is ${problem}`}: ${message}`);
    this.name = 'KernelBundleError';
  }
}

interface Slice {
  readonly offset: number;
  readonly length: number;
}

/** A WASM artifact with its module moved to the payload (and its relaxed-SIMD variant's, if any). */
type ManifestWasm = Omit<WasmArtifact, 'wasm' | 'relaxed'> & {
  readonly bytes: Slice;
  readonly relaxed?: Omit<WasmArtifact, 'wasm' | 'relaxed'> & { readonly bytes: Slice };
};

interface ManifestVariant {
  readonly consts: Readonly<Record<string, number>>;
  readonly wasm: ManifestWasm;
  readonly wgsl: readonly (Omit<WgslArtifact, 'wgsl'> & { readonly text: Slice })[];
}

interface ManifestKernel {
  readonly name: string;
  readonly hash: string;
  readonly origin?: string;
  readonly variants: readonly ManifestVariant[];
}

/** The manifest at the start of a bundle (JSON). */
export interface BundleManifest {
  readonly format: 'tilevm-bundle';
  readonly version: typeof BUNDLE_VERSION;
  readonly kernels: readonly ManifestKernel[];
}

/** A loaded bundle: its kernels by name, ready to launch. */
export class KernelBundle {
  readonly kernels: ReadonlyMap<string, PrecompiledKernel>;

  constructor(
    readonly manifest: BundleManifest,
    kernels: readonly PrecompiledKernel[],
  ) {
    this.kernels = new Map(kernels.map((k) => [k.name, k]));
  }

  /** The kernel called `name`; throws naming the kernels there are. */
  kernel(name: string): PrecompiledKernel {
    const k = this.kernels.get(name);
    if (!k) {
      throw new Error(
        `the bundle has no kernel '${name}'; it has: ${[...this.kernels.keys()].join(', ') || 'none'}`,
      );
    }
    return k;
  }
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/** Writes a bundle of precompiled kernels (what `tilevm build` does). Kernel names must be unique. */
export async function encodeKernelBundle(kernels: readonly PrecompiledKernelData[]): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const put = (bytes: Uint8Array): Slice => {
    chunks.push(bytes);
    size += bytes.length;
    return { offset: size - bytes.length, length: bytes.length };
  };
  const encoder = new TextEncoder();
  const names = new Set<string>();
  const manifestKernels: ManifestKernel[] = kernels.map((k) => {
    if (names.has(k.name))
      throw new Error(`two kernels are named '${k.name}'; bundle kernels need unique names`);
    names.add(k.name);
    return {
      name: k.name,
      hash: k.hash,
      ...(k.origin ? { origin: k.origin } : {}),
      variants: k.variants.map((v) => {
        const { wasm, relaxed, ...wasmMeta } = v.wasm;
        const relaxedEntry =
          relaxed &&
          (({ wasm: code, relaxed: _, ...meta }) => ({ ...meta, bytes: put(base64Decode(code)) }))(relaxed);
        return {
          consts: v.consts,
          wasm: {
            ...wasmMeta,
            bytes: put(base64Decode(wasm)),
            ...(relaxedEntry ? { relaxed: relaxedEntry } : {}),
          },
          wgsl: v.wgsl.map(({ wgsl, ...meta }) => ({ ...meta, text: put(encoder.encode(wgsl)) })),
        };
      }),
    };
  });
  const manifest: BundleManifest = {
    format: 'tilevm-bundle',
    version: BUNDLE_VERSION,
    kernels: manifestKernels,
  };
  const manifestBytes = encoder.encode(JSON.stringify(manifest));
  const out = new Uint8Array(BUNDLE_HEADER_BYTES + manifestBytes.length + size);
  const view = new DataView(out.buffer);
  out.set(encoder.encode(BUNDLE_MAGIC), 0);
  view.setUint32(4, BUNDLE_VERSION, true);
  view.setUint32(8, manifestBytes.length, true);
  view.setUint32(12, size, true);
  out.set(manifestBytes, BUNDLE_HEADER_BYTES);
  let at = BUNDLE_HEADER_BYTES + manifestBytes.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  out.set(await sha256(out.subarray(BUNDLE_HEADER_BYTES)), 16);
  return out;
}

/** Reads a bundle, checking its header, length, integrity hash and manifest before anything runs. */
export async function loadKernelBundle(data: ArrayBuffer | Uint8Array): Promise<KernelBundle> {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length < 16) {
    throw new KernelBundleError(
      'truncated',
      `${bytes.length} bytes, shorter than its ${BUNDLE_HEADER_BYTES}-byte header`,
    );
  }
  const magic = new TextDecoder().decode(bytes.subarray(0, 4));
  if (magic !== BUNDLE_MAGIC) {
    throw new KernelBundleError(
      'format',
      `it does not start with '${BUNDLE_MAGIC}': not a .tvk file from \`tilevm build\``,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== BUNDLE_VERSION) {
    throw new KernelBundleError(
      'version',
      `format version ${version}, this runtime reads version ${BUNDLE_VERSION}; rebuild it with \`tilevm build\` of this tilevm version`,
    );
  }
  const manifestLength = view.getUint32(8, true);
  const payloadLength = view.getUint32(12, true);
  const expected = BUNDLE_HEADER_BYTES + manifestLength + payloadLength;
  if (bytes.length < expected) {
    throw new KernelBundleError(
      'truncated',
      `${bytes.length} bytes, its header says ${expected}; copy or download it again`,
    );
  }
  if (bytes.length > expected) {
    throw new KernelBundleError(
      'corrupted',
      `${bytes.length - expected} bytes follow the end its header gives`,
    );
  }
  const digest = await sha256(bytes.subarray(BUNDLE_HEADER_BYTES));
  const stored = bytes.subarray(16, BUNDLE_HEADER_BYTES);
  if (!digest.every((b, i) => b === stored[i])) {
    throw new KernelBundleError('corrupted', 'the SHA-256 integrity hash does not match its contents');
  }
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(
      new TextDecoder().decode(bytes.subarray(BUNDLE_HEADER_BYTES, BUNDLE_HEADER_BYTES + manifestLength)),
    ) as BundleManifest;
  } catch (e) {
    throw new KernelBundleError('corrupted', `the manifest is not JSON (${(e as Error).message})`);
  }
  if (
    manifest?.format !== 'tilevm-bundle' ||
    manifest.version !== BUNDLE_VERSION ||
    !Array.isArray(manifest.kernels)
  ) {
    throw new KernelBundleError('corrupted', 'the manifest is not a tilevm-bundle version 1 manifest');
  }
  const payload = bytes.subarray(BUNDLE_HEADER_BYTES + manifestLength);
  const slice = (s: Slice, what: string): Uint8Array => {
    if (
      !Number.isInteger(s?.offset) ||
      !Number.isInteger(s?.length) ||
      s.offset < 0 ||
      s.offset + s.length > payload.length
    ) {
      throw new KernelBundleError('corrupted', `${what} lies outside the payload`);
    }
    return payload.subarray(s.offset, s.offset + s.length);
  };
  const decoder = new TextDecoder();
  const kernels = manifest.kernels.map((k: ManifestKernel) =>
    precompiled({
      format: 'tilevm-precompiled',
      version: 1,
      name: k.name,
      hash: k.hash,
      ...(k.origin ? { origin: k.origin } : {}),
      variants: k.variants.map((v) => {
        const { bytes: wasmBytes, relaxed, ...wasmMeta } = v.wasm;
        // Bundles without `relaxed` (older writers, kernels without relaxed ops) run the baseline.
        const relaxedArtifact =
          relaxed === undefined
            ? undefined
            : (({ bytes, ...meta }) => ({
                ...meta,
                wasm: base64Encode(slice(bytes, `kernel '${k.name}' relaxed-SIMD WASM`)),
              }))(relaxed);
        return {
          consts: v.consts,
          wasm: {
            ...wasmMeta,
            wasm: base64Encode(slice(wasmBytes, `kernel '${k.name}' WASM`)),
            ...(relaxedArtifact ? { relaxed: relaxedArtifact } : {}),
          } as WasmArtifact,
          wgsl: v.wgsl.map(({ text, ...meta }) => ({
            ...meta,
            wgsl: decoder.decode(slice(text, `kernel '${k.name}' WGSL`)),
          })) as WgslArtifact[],
        };
      }),
    }),
  );
  return new KernelBundle(manifest, kernels);
}

function base64Decode(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function base64Encode(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
