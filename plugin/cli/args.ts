// A small argv parser: positionals, `--name value`, `--name=value` and boolean `--flag`s.
export interface ParsedArgs {
  readonly positional: string[];
  readonly options: Map<string, string>;
  readonly flags: Set<string>;
}

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[], booleans: readonly string[]): ParsedArgs {
  const positional: string[] = [];
  const options = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (booleans.includes(name)) {
      flags.add(name);
    } else if (eq !== -1) {
      options.set(name, arg.slice(eq + 1));
    } else {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      options.set(name, value);
      i++;
    }
  }
  return { positional, options, flags };
}

/** Rejects options the command does not know, naming the ones it does. */
export function expectOptions(args: ParsedArgs, known: readonly string[], command: string): void {
  for (const name of [...args.options.keys(), ...args.flags]) {
    if (!known.includes(name)) {
      throw new UsageError(
        `tilevm ${command}: unknown option --${name} (options: ${known.map((k) => `--${k}`).join(', ')})`,
      );
    }
  }
}
