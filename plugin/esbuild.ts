// tilevm/plugin/esbuild: the tilevm build plugin for esbuild (options: plugin/core/transform.ts).
import { tilevmUnplugin } from './core/unplugin.js';

export type { KernelReport, TilevmPluginOptions } from './core/unplugin.js';
export default tilevmUnplugin.esbuild;
export const tilevm = tilevmUnplugin.esbuild;
