// PATNet variants (PartialNet upstream: github.com/haiduo/PartialNet, cfg/PartialNet_*.yaml; see
// docs/patnet.md for what is verified against fixtures and what is taken from the paper's table).

export type PatnetVariant = 't0' | 't1' | 't2' | 's' | 'm' | 'l';
export type Activation = 'gelu' | 'relu';

export interface PatnetConfig {
  readonly variant: PatnetVariant;
  /** Channels of stage 0; stage i has embedDim * 2^i. */
  readonly embedDim: number;
  /** Blocks per stage. Stages 0..2 are PAT_ch blocks, stage 3 PAT_sf blocks. */
  readonly depths: readonly [number, number, number, number];
  readonly mlpRatio: number;
  /** The 3x3 conv (and PAT_sf's LN/attention split) take C / nDiv channels first. */
  readonly nDiv: number;
  readonly act: Activation;
  /** PAT_sp: every MLP ends with the split spatial gate (`mlp.4`). */
  readonly spatialAttn: boolean;
  /** Channels of the head's 1x1 conv. */
  readonly featureDim: number;
  /** Attention heads in PAT_sf blocks. */
  readonly heads: number;
  readonly numClasses: number;
  readonly imageSize: number;
}

const base = { mlpRatio: 2, nDiv: 4, featureDim: 1280, heads: 4, numClasses: 1000, imageSize: 224 } as const;

export const PATNET_CONFIGS: Readonly<Record<PatnetVariant, PatnetConfig>> = {
  t0: { ...base, variant: 't0', embedDim: 32, depths: [1, 2, 8, 2], act: 'gelu', spatialAttn: false },
  t1: { ...base, variant: 't1', embedDim: 48, depths: [1, 2, 8, 2], act: 'gelu', spatialAttn: true },
  t2: { ...base, variant: 't2', embedDim: 64, depths: [1, 2, 8, 2], act: 'relu', spatialAttn: true },
  s: { ...base, variant: 's', embedDim: 96, depths: [1, 2, 13, 2], act: 'relu', spatialAttn: true },
  m: { ...base, variant: 'm', embedDim: 128, depths: [3, 4, 18, 3], act: 'relu', spatialAttn: true },
  l: { ...base, variant: 'l', embedDim: 160, depths: [3, 4, 18, 3], act: 'relu', spatialAttn: true },
};

/** The config for a variant name (case-insensitive), or a clear error listing the valid ones. */
export function patnetConfig(variant: string, overrides: Partial<PatnetConfig> = {}): PatnetConfig {
  const key = variant.toLowerCase() as PatnetVariant;
  const cfg = PATNET_CONFIGS[key];
  if (!cfg) {
    throw new Error(
      `PATNet: unknown variant '${variant}'; use one of ${Object.keys(PATNET_CONFIGS).join(', ')}`,
    );
  }
  return { ...cfg, ...overrides };
}

/** Channels of stage s. */
export function stageDim(cfg: PatnetConfig, s: number): number {
  return cfg.embedDim * 2 ** s;
}
