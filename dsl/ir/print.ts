// The readable text form of a VM program: what `tilevm compile --target vm` shows and what
// validator errors quote.
import type { Param, Program, Stmt, TileType, TileVar } from './program.js';
import { printConst, printScalar, type ScalarExpr } from './scalar.js';

export function printType(t: TileType): string {
  const space = t.space === 'shared' ? 'shared ' : '';
  const layout = t.layout ? ` @ ${t.layout.toString()}` : '';
  return `${space}${t.dtype.name}[${t.shape.join(', ')}]${layout}`;
}

export function printVar(v: TileVar): string {
  return `%${v.name}.${v.id}`;
}

function offs(offsets: readonly ScalarExpr[]): string {
  return `[${offsets.map(printScalar).join(', ')}]`;
}

/** One line for a statement (for/if print their header only). */
export function printStmtHead(s: Stmt): string {
  const def = (v: TileVar) => `${printVar(v)}: ${printType(v.type)} = `;
  switch (s.op) {
    case 'load_global': {
      const extra = [
        s.other !== undefined ? `other=${printConst(s.other, s.dst.type.dtype)}` : '',
        s.mask ? `mask=${printVar(s.mask)}` : '',
      ].filter(Boolean);
      return `${def(s.dst)}load ${s.param}${offs(s.offsets)}${extra.length ? ` ${extra.join(' ')}` : ''}`;
    }
    case 'store_global':
      return `store ${s.param}${offs(s.offsets)} <- ${printVar(s.src)}${s.mask ? ` mask=${printVar(s.mask)}` : ''}`;
    case 'alloc_shared':
      return `${def(s.dst)}alloc_shared`;
    case 'load_shared':
      return `${def(s.dst)}load_shared ${printVar(s.src)}${offs(s.offsets)}`;
    case 'store_shared':
      return `store_shared ${printVar(s.dst)}${offs(s.offsets)} <- ${printVar(s.src)}`;
    case 'sync':
      return 'sync';
    case 'full':
      return `${def(s.dst)}full ${printScalar(s.value)}`;
    case 'arange':
      return `${def(s.dst)}arange ${printScalar(s.start)}`;
    case 'cast':
    case 'view':
    case 'reshape':
    case 'broadcast':
    case 'copy':
    case 'convert_layout':
      return `${def(s.dst)}${s.op} ${printVar(s.src)}`;
    case 'unary':
      return `${def(s.dst)}${s.fn} ${printVar(s.src)}`;
    case 'binary':
      return `${def(s.dst)}${s.fn} ${printVar(s.a)}, ${printVar(s.b)}`;
    case 'select':
      return `${def(s.dst)}select ${printVar(s.cond)}, ${printVar(s.a)}, ${printVar(s.b)}`;
    case 'unsqueeze':
      return `${def(s.dst)}unsqueeze ${printVar(s.src)} axis=${s.axis}`;
    case 'repeat':
      return `${def(s.dst)}repeat ${printVar(s.src)} [${s.repeats.join(', ')}]`;
    case 'transpose':
      return `${def(s.dst)}transpose ${printVar(s.src)} [${s.perm.join(', ')}]`;
    case 'reduce':
      return `${def(s.dst)}reduce_${s.fn} ${printVar(s.src)} axis=${s.axis}${s.keepdim ? ' keepdim' : ''}`;
    case 'dot':
      return `${def(s.dst)}dot ${printVar(s.a)}, ${printVar(s.b)}, ${printVar(s.c)}`;
    case 'let_scalar':
      return `${s.name}: ${s.value.dtype.name} = ${printScalar(s.value)}`;
    case 'for':
      return `for ${s.var} in range(${printScalar(s.start)}, ${printScalar(s.stop)}, ${printScalar(s.step)})`;
    case 'if':
      return `if ${printScalar(s.cond)}`;
  }
}

function printBody(body: readonly Stmt[], indent: string, out: string[]): void {
  for (const s of body) {
    if (s.op === 'for') {
      out.push(`${indent}${printStmtHead(s)} {`);
      printBody(s.body, `${indent}  `, out);
      out.push(`${indent}}`);
    } else if (s.op === 'if') {
      out.push(`${indent}${printStmtHead(s)} {`);
      printBody(s.thenBody, `${indent}  `, out);
      if (s.elseBody.length > 0) {
        out.push(`${indent}} else {`);
        printBody(s.elseBody, `${indent}  `, out);
      }
      out.push(`${indent}}`);
    } else {
      out.push(`${indent}${printStmtHead(s)}`);
    }
  }
}

function printParam(p: Param): string {
  if (p.kind === 'scalar') return `${p.name}: ${p.dtype.name}`;
  const access = p.access === 'read' ? '' : ` ${p.access}`;
  return `${p.name}: global ${p.dtype.name}[${p.shape.map(printScalar).join(', ')}]${access}`;
}

export function printProgram(p: Program): string {
  const out = [`program ${p.name}(${p.params.map(printParam).join(', ')})`];
  const consts = Object.entries(p.consts);
  if (consts.length > 0) out.push(`  consts ${consts.map(([k, v]) => `${k} = ${v}`).join(', ')}`);
  out.push(`  grid(${p.grid.map(printScalar).join(', ')}) threads(${p.threads})`);
  out.push('{');
  printBody(p.body, '  ', out);
  out.push('}');
  return out.join('\n');
}
