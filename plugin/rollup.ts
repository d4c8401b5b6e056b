// tilevm/plugin/rollup: the tilevm build plugin for rollup (options: plugin/core/transform.ts).
import { tilevmUnplugin } from './core/unplugin.js';

export type { KernelReport, TilevmPluginOptions } from './core/unplugin.js';
export default tilevmUnplugin.rollup;
export const tilevm = tilevmUnplugin.rollup;
