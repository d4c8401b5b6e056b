// Text assembly for the generated WGSL: indented lines, and the module's helper functions collected
// once each by name.

/** Indented lines of WGSL, one statement per line. */
export class Writer {
  private readonly out: string[] = [];
  private depth = 0;

  constructor(depth = 0) {
    this.depth = depth;
  }

  line(text: string): void {
    this.out.push(text === '' ? '' : `${'  '.repeat(this.depth)}${text}`);
  }

  comment(text: string): void {
    for (const l of text.split('\n')) this.line(`// ${l}`);
  }

  /** `head {`, the body one level deeper, `}`. */
  block(head: string, body: () => void): void {
    this.line(head ? `${head} {` : '{');
    this.depth++;
    body();
    this.depth--;
    this.line('}');
  }

  /** `if cond {` then `} else {` otherwise `}`. */
  ifElse(cond: string, then: () => void, otherwise: () => void): void {
    this.line(`if ${cond} {`);
    this.depth++;
    then();
    this.depth--;
    this.line('} else {');
    this.depth++;
    otherwise();
    this.depth--;
    this.line('}');
  }

  /** The position of the next line, for insertAt. */
  mark(): number {
    return this.out.length;
  }

  /** The lines written since `mark`. */
  since(mark: number): readonly string[] {
    return this.out.slice(mark);
  }

  /** Inserts a line at `mark`, indented as the line now there. */
  insertAt(mark: number, text: string): void {
    const next = this.out[mark] ?? '';
    const indent = /^ */.exec(next)?.[0] ?? '';
    this.out.splice(mark, 0, `${indent}${text}`);
  }

  /** Indents every line from `mark` on by one more level. */
  indentSince(mark: number): void {
    for (let i = mark; i < this.out.length; i++) if (this.out[i] !== '') this.out[i] = `  ${this.out[i]}`;
  }

  get lines(): readonly string[] {
    return this.out;
  }

  text(): string {
    return this.out.join('\n');
  }
}

/** A WGSL function declaration and the helpers it calls (which must be declared too). */
export interface HelperFn {
  readonly name: string;
  readonly code: string;
  readonly deps?: readonly HelperFn[];
}

/** The helper functions a module needs, each once, in first-use order (dependencies first). */
export class Helpers {
  private readonly byName = new Map<string, string>();

  /** Registers `fn` (and its dependencies) and returns its name, for a call. */
  use(fn: HelperFn): string {
    if (this.byName.has(fn.name)) {
      if (this.byName.get(fn.name) !== fn.code) throw new Error(`internal: two helpers named ${fn.name}`);
      return fn.name;
    }
    for (const d of fn.deps ?? []) this.use(d);
    this.byName.set(fn.name, fn.code);
    return fn.name;
  }

  get code(): readonly string[] {
    return [...this.byName.values()];
  }
}
