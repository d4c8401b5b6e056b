// The unplugin behind every bundler entry (plugin/esbuild.ts, vite.ts, rollup.ts, webpack.ts).
// One KernelTransformer (so one ts-morph Project) per build; kernel errors fail the build in the
// bundler's own format (esbuild `errors` with `location`, rollup/vite errors with `loc` and `id`,
// webpack module errors, whose ModuleError keeps only the message: hence file:line:col in the text).
import { createUnplugin, type UnpluginInstance } from 'unplugin';
import { formatLocated, type Located } from './compile-kernel.js';
import { KernelTransformer, type TilevmPluginOptions } from './transform.js';

export type { KernelReport, TilevmPluginOptions } from './transform.js';

function message(p: Located) {
  return {
    message: formatLocated(p, process.cwd()),
    id: p.file,
    code: p.code,
    plugin: 'tilevm',
    // Bundlers count columns from 0.
    loc: { file: p.file, line: p.line, column: p.column - 1 },
  };
}

export const tilevmUnplugin: UnpluginInstance<TilevmPluginOptions, false> = createUnplugin(
  (options: TilevmPluginOptions = {}) => {
    let transformer = new KernelTransformer(options);
    return {
      name: 'tilevm',
      enforce: 'pre',
      buildStart() {
        // A new build (not a watch rebuild, which keeps the project) starts from a fresh project.
        if (!this.getWatchFiles || this.getWatchFiles().length === 0)
          transformer = new KernelTransformer(options);
      },
      transformInclude(id) {
        return transformer.wants(id);
      },
      transform(code, id) {
        if (!transformer.wants(id, code)) return null;
        const path = id.split('?')[0];
        const result = transformer.transform(path, code);
        for (const w of result.warnings) this.warn(message(w));
        if (result.errors.length > 0) {
          const [first, ...rest] = result.errors;
          const m = message(first);
          if (rest.length > 0)
            m.message += `\n${rest.map((e) => formatLocated(e, process.cwd())).join('\n')}`;
          this.error(m);
          return null;
        }
        if (result.kernels.length === 0 && result.code === code) return null;
        return { code: result.code, map: result.map };
      },
      watchChange(id) {
        transformer.fileChanged(id);
      },
      vite: {
        handleHotUpdate(ctx) {
          // An edited file may hold consts other kernels import: the project re-reads it.
          transformer.fileChanged(ctx.file);
        },
      },
    };
  },
);
