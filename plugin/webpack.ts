// tilevm/plugin/webpack: the tilevm build plugin for webpack (options: plugin/core/transform.ts).
import { tilevmUnplugin } from './core/unplugin.js';

export type { KernelReport, TilevmPluginOptions } from './core/unplugin.js';
export default tilevmUnplugin.webpack;
export const tilevm = tilevmUnplugin.webpack;
