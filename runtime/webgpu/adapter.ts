/// <reference types="@webgpu/types" />
// Finding a WebGPU adapter: navigator.gpu in browsers; in Node, Dawn through the `webgpu` package
// (imported dynamically, so browser bundles never pull it in). On Linux without a GPU, Dawn finds no
// Vulkan driver it accepts (Mesa's lavapipe is rejected); we then point the Vulkan loader at
// SwiftShader, Chromium's CPU driver, and retry with a fresh create([]): the loader reads
// VK_ICD_FILENAMES when Dawn makes its instance, so it need not be set before the first create().
// It must be the real process environment: a worker thread's process.env never reaches native code.
import { WebGpuUnavailableError } from './errors.js';

/** Chromium's SwiftShader Vulkan driver as Debian installs it (`apt-get install chromium`). */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Every GPU object Dawn's create() returned, held for the life of the process: if one is collected
 * while a device made from it lives, Dawn aborts the process in the next GC.
 */
const keepAlive: GPU[] = [];
/** The Node GPU that last produced an adapter. */
let nodeGpu: GPU | undefined;

type WebGpuModule = typeof import('webgpu');
let webgpuModule: Promise<WebGpuModule> | undefined;

/** Imports (once) a Node builtin or package by a specifier bundlers do not follow. */
function importNode<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ /* webpackIgnore: true */ specifier) as Promise<T>;
}

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/** Requests an adapter: navigator.gpu when the environment has one, else Dawn in Node. */
export async function requestAdapter(powerPreference?: GPUPowerPreference): Promise<GPUAdapter> {
  const options: GPURequestAdapterOptions = powerPreference ? { powerPreference } : {};
  const gpu = typeof navigator !== 'undefined' ? (navigator as { gpu?: GPU }).gpu : undefined;
  if (gpu) {
    const adapter = await gpu.requestAdapter(options);
    if (adapter) return adapter;
    throw new WebGpuUnavailableError(
      'no WebGPU adapter: navigator.gpu.requestAdapter() returned null (WebGPU is disabled, or this GPU ' +
        'or driver is blocklisted); enable WebGPU in the browser or update the GPU driver',
    );
  }
  if (isNode()) return nodeAdapter(options);
  throw new WebGpuUnavailableError(
    'WebGPU is not available here: navigator.gpu is missing; use a browser with WebGPU, or Node with the ' +
      "'webgpu' package",
  );
}

/**
 * The WGSL language features of the GPU object that gave the last adapter (navigator.gpu in browsers,
 * Dawn's in Node), e.g. 'packed_4x8_integer_dot_product'; empty where the implementation has no
 * `wgslLanguageFeatures`.
 */
export function wgslLanguageFeatures(): ReadonlySet<string> {
  const browser = typeof navigator !== 'undefined' ? (navigator as { gpu?: GPU }).gpu : undefined;
  const gpu = browser ?? nodeGpu;
  const features = (gpu as { wgslLanguageFeatures?: Iterable<string> } | undefined)?.wgslLanguageFeatures;
  return new Set(features ?? []);
}

async function nodeAdapter(options: GPURequestAdapterOptions): Promise<GPUAdapter> {
  webgpuModule ??= importNode<WebGpuModule>('webgpu').then((m) => {
    // GPUBufferUsage, GPUMapMode, GPUShaderStage and friends, as browsers define them.
    Object.assign(globalThis, m.globals);
    return m;
  });
  const { create } = await webgpuModule;
  const env = process.env;
  if (process.platform === 'linux' && env.XDG_RUNTIME_DIR === undefined) {
    // Mesa's Vulkan drivers print 'XDG_RUNTIME_DIR is invalid or not set' while Dawn probes them.
    env.XDG_RUNTIME_DIR = (await importNode<typeof import('node:os')>('node:os')).tmpdir();
  }
  if (nodeGpu) {
    const adapter = await nodeGpu.requestAdapter(options);
    if (adapter) return adapter;
  }
  const attempt = async (): Promise<GPUAdapter | null> => {
    const gpu = create([]);
    keepAlive.push(gpu);
    const adapter = await gpu.requestAdapter(options);
    if (adapter) nodeGpu = gpu;
    return adapter;
  };
  let adapter = await attempt();
  if (adapter) return adapter;
  const fs = await importNode<typeof import('node:fs')>('node:fs');
  const icdConfigured = env.VK_ICD_FILENAMES !== undefined || env.VK_DRIVER_FILES !== undefined;
  const swiftShader = process.platform === 'linux' && fs.existsSync(SWIFTSHADER_ICD);
  if (swiftShader && !icdConfigured) {
    // The Vulkan loader reads these when Dawn creates its instance, so a fresh create() sees them.
    env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    adapter = await attempt();
    if (adapter) return adapter;
  }
  throw new WebGpuUnavailableError(await noAdapterMessage(swiftShader, icdConfigured));
}

async function noAdapterMessage(swiftShader: boolean, icdConfigured: boolean): Promise<string> {
  const head = "no WebGPU adapter: Dawn (the 'webgpu' package) found no usable GPU driver";
  if (process.platform !== 'linux') {
    return `${head}; install or update the GPU driver (Metal on macOS, D3D12 or Vulkan on Windows)`;
  }
  if (icdConfigured) {
    const which = process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES;
    return (
      `${head} through the Vulkan driver(s) that VK_ICD_FILENAMES/VK_DRIVER_FILES name (${which}); ` +
      `check that they exist, or unset them to let tilevm use SwiftShader (${SWIFTSHADER_ICD}), and ` +
      'install the Vulkan loader (Debian: apt-get install libvulkan1)'
    );
  }
  if (!swiftShader) {
    return (
      `${head}. Install a GPU's Vulkan driver, or on a machine without a GPU the SwiftShader CPU driver and ` +
      `the Vulkan loader: apt-get install chromium libvulkan1 (Debian; tilevm then uses ${SWIFTSHADER_ICD} ` +
      'by itself)'
    );
  }
  const { isMainThread } = await importNode<typeof import('node:worker_threads')>('node:worker_threads');
  if (!isMainThread) {
    return (
      `${head}, and SwiftShader (${SWIFTSHADER_ICD}) could not be tried: this is a worker thread, whose ` +
      'process.env changes never reach native code; set ' +
      `VK_ICD_FILENAMES=${SWIFTSHADER_ICD} in the environment before starting node`
    );
  }
  return (
    `${head}, not even SwiftShader (${SWIFTSHADER_ICD}, tried through VK_ICD_FILENAMES): install the ` +
    'Vulkan loader it needs, apt-get install libvulkan1 (Debian)'
  );
}
