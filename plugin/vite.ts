// tilevm/plugin/vite: the tilevm build plugin for vite (options: plugin/core/transform.ts).
import { tilevmUnplugin } from './core/unplugin.js';

export type { KernelReport, TilevmPluginOptions } from './core/unplugin.js';
export default tilevmUnplugin.vite;
export const tilevm = tilevmUnplugin.vite;
