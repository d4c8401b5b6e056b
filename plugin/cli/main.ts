#!/usr/bin/env node
// The `tilevm` command: check, build and compile kernels; `tilevm patnet ...` is PATNet's CLI,
// loaded only when asked for.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, UsageError } from './args.js';
import { runBuild } from './build.js';
import { runCheck } from './check.js';
import { runCompile } from './compile.js';
import { type CliIo, processIo } from './io.js';

export const USAGE = `usage: tilevm <command>

  tilevm check [--project tsconfig.json] [--strict]
      check every kernel of the project; diagnostics as file:line:col; exit 1 on errors
  tilevm build <entry.ts or 'glob/**/*.ts'> --out kernels.tvk [--project tsconfig.json] [--strict]
      compile every kernel and variant (WGSL and WASM) into one bundle (docs/bundle-format.md)
  tilevm compile <file.ts> --target wgsl|wasm|vm --kernel NAME [--consts BM=4,BN=64] [--features subgroups]
      print a kernel's WGSL, WASM text or VM program
  tilevm patnet ...
      the PATNet tools (tilevm patnet --help)
`;

const BOOLEAN_FLAGS = ['strict', 'help'];

export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'patnet') {
      const { runPatnetCli } = await import('../../patnet/cli/index.js');
      return await runPatnetCli([...rest], {
        out: (line) => io.out(`${line}\n`),
        err: (line) => io.err(`${line}\n`),
      });
    }
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      io.out(USAGE);
      return command === undefined ? 2 : 0;
    }
    const args = parseArgs(rest, BOOLEAN_FLAGS);
    if (args.flags.has('help')) {
      io.out(USAGE);
      return 0;
    }
    if (command === 'check') return runCheck(args, io);
    if (command === 'build') return await runBuild(args, io);
    if (command === 'compile') return await runCompile(args, io);
    throw new UsageError(`unknown command '${command}'`);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`${e.message}\n\n${USAGE}`);
    return 2;
  }
}

/** Whether this module is the program (run directly or through the package's bin link). */
function isMain(): boolean {
  try {
    return (
      process.argv[1] !== undefined &&
      realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
    );
  } catch {
    return false;
  }
}

if (isMain()) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`tilevm: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
