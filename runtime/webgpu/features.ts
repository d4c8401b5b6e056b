/// <reference types="@webgpu/types" />
// What a tilevm device asks of its adapter: the optional features kernels can use, and the adapter's
// full compute limits rather than WebGPU's small defaults (big weight buffers, more bindings).

/** Features kernels use when present; every artifact has a variant without them. */
export const USEFUL_FEATURES: readonly string[] = ['shader-f16', 'subgroups', 'timestamp-query'];

/** Limits raised to the adapter's maximum. */
const COMPUTE_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
] as const;

export interface FeatureOptions {
  /** 'auto' (the default): every useful feature the adapter has. A list: exactly these (each must exist). */
  readonly requiredFeatures?: 'auto' | readonly string[];
  /**
   * Features never to request, even under 'auto' (tests use it to force the fallback variants); WGSL
   * language features named here are left out of the device's `wgslLanguageFeatures`.
   */
  readonly disableFeatures?: readonly string[];
}

/** The device descriptor: the chosen features and the adapter's compute limits. */
export function deviceDescriptor(adapter: GPUAdapter, options: FeatureOptions): GPUDeviceDescriptor {
  const has = (f: string): boolean => adapter.features.has(f);
  const wanted = options.requiredFeatures ?? 'auto';
  if (wanted !== 'auto') {
    if (!Array.isArray(wanted)) {
      throw new TypeError(`createDevice: requiredFeatures must be 'auto' or a list of feature names`);
    }
    const missing = wanted.filter((f) => !has(f));
    if (missing.length > 0) {
      throw new Error(
        `createDevice: the adapter lacks required feature(s) ${missing.map((f) => `'${f}'`).join(', ')} ` +
          `(it has: ${[...adapter.features].sort().join(', ')}); pass requiredFeatures: 'auto' to take what exists`,
      );
    }
  }
  const disabled = new Set(options.disableFeatures ?? []);
  const features = (wanted === 'auto' ? USEFUL_FEATURES.filter(has) : wanted).filter((f) => !disabled.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of COMPUTE_LIMITS) {
    const value = adapter.limits[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  return { requiredFeatures: [...new Set(features)] as GPUFeatureName[], requiredLimits };
}
