// The CLI's ts-morph Project: from a tsconfig (its files), lean like the plugin's (no libs).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Project } from 'ts-morph';
import { UsageError } from './args.js';

export function loadProject(tsconfig: string | undefined, addFiles: boolean): Project {
  const path = resolve(tsconfig ?? 'tsconfig.json');
  const lean = { noLib: true, types: [] as string[], skipLibCheck: true };
  if (existsSync(path))
    return new Project({
      tsConfigFilePath: path,
      skipAddingFilesFromTsConfig: !addFiles,
      compilerOptions: lean,
    });
  if (tsconfig) throw new UsageError(`no tsconfig at ${path}; pass --project path/to/tsconfig.json`);
  return new Project({ compilerOptions: { ...lean, allowJs: true } });
}
