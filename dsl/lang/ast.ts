// The syntax tree of the kernel language. Every node carries its source span: offsets into the
// kernel's source text, where each `${…}` interpolation stands as one placeholder token.

export interface Span {
  /** Offset of the first character, in the joined template text. */
  readonly start: number;
  /** Offset just past the last character. */
  readonly end: number;
}

// ---- expressions ----

export interface NumberLit {
  readonly kind: 'number';
  readonly span: Span;
  readonly value: number;
  /** Written with a '.', an exponent, or as Infinity/NaN: a float literal. */
  readonly isFloat: boolean;
  /** A dtype name written right after the digits, e.g. `255u8`, `1.5f16`. */
  readonly suffix?: string;
}
export interface BoolLit {
  readonly kind: 'bool';
  readonly span: Span;
  readonly value: boolean;
}
export interface Ident {
  readonly kind: 'ident';
  readonly span: Span;
  readonly name: string;
}
/** `${…}`: the index-th interpolated value of the template. */
export interface Interp {
  readonly kind: 'interp';
  readonly span: Span;
  readonly index: number;
}
/** `obj.name` */
export interface Member {
  readonly kind: 'member';
  readonly span: Span;
  readonly object: Expr;
  readonly name: string;
  readonly nameSpan: Span;
}
/** `obj[index]` */
export interface IndexExpr {
  readonly kind: 'index';
  readonly span: Span;
  readonly object: Expr;
  readonly index: Expr;
}
export interface Call {
  readonly kind: 'call';
  readonly span: Span;
  readonly callee: Expr;
  readonly args: readonly Expr[];
}
export interface ArrayLit {
  readonly kind: 'array';
  readonly span: Span;
  readonly elements: readonly Expr[];
}
export interface ObjectProp {
  readonly key: string;
  readonly keySpan: Span;
  readonly value: Expr;
}
export interface ObjectLit {
  readonly kind: 'object';
  readonly span: Span;
  readonly props: readonly ObjectProp[];
}
export type UnaryOperator = '-' | '+' | '!' | '~';
export interface UnaryExpr {
  readonly kind: 'unary';
  readonly span: Span;
  readonly op: UnaryOperator;
  readonly operand: Expr;
}
export type BinaryOperator =
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '**'
  | '<<'
  | '>>'
  | '>>>'
  | '<'
  | '<='
  | '>'
  | '>='
  | '=='
  | '!='
  | '==='
  | '!=='
  | '&'
  | '^'
  | '|'
  | '&&'
  | '||';
export interface BinaryExpr {
  readonly kind: 'binary';
  readonly span: Span;
  readonly op: BinaryOperator;
  readonly opSpan: Span;
  readonly left: Expr;
  readonly right: Expr;
}
/** `cond ? a : b` */
export interface ConditionalExpr {
  readonly kind: 'conditional';
  readonly span: Span;
  readonly cond: Expr;
  readonly whenTrue: Expr;
  readonly whenFalse: Expr;
}
/** Stands in for an expression the parser could not read (an error was reported). */
export interface ErrorExpr {
  readonly kind: 'error';
  readonly span: Span;
}

export type Expr =
  | NumberLit
  | BoolLit
  | Ident
  | Interp
  | Member
  | IndexExpr
  | Call
  | ArrayLit
  | ObjectLit
  | UnaryExpr
  | BinaryExpr
  | ConditionalExpr
  | ErrorExpr;

// ---- statements ----

/** `const name = init;` or `let name = init;` */
export interface VarDecl {
  readonly kind: 'var';
  readonly span: Span;
  readonly declKind: 'const' | 'let';
  readonly name: string;
  readonly nameSpan: Span;
  readonly init: Expr;
}
export type AssignOperator =
  | '='
  | '+='
  | '-='
  | '*='
  | '/='
  | '%='
  | '&='
  | '|='
  | '^='
  | '<<='
  | '>>='
  | '**=';
/** `name op= value;` (`i++` parses as `i += 1`, `i--` as `i -= 1`) */
export interface AssignStmt {
  readonly kind: 'assign';
  readonly span: Span;
  readonly target: Ident;
  readonly op: AssignOperator;
  readonly value: Expr;
}
export interface ExprStmt {
  readonly kind: 'expr';
  readonly span: Span;
  readonly expr: Expr;
}
/**
 * `for (let v = start; v < stop; v += step) body` — the only loop form: a counted loop over an
 * integer range. `v++` means step 1; `<=` is allowed and recorded in `inclusive`.
 */
export interface ForStmt {
  readonly kind: 'for';
  readonly span: Span;
  readonly variable: string;
  readonly variableSpan: Span;
  readonly start: Expr;
  readonly stop: Expr;
  readonly inclusive: boolean;
  readonly step: Expr;
  readonly body: Block;
}
export interface IfStmt {
  readonly kind: 'if';
  readonly span: Span;
  readonly cond: Expr;
  readonly consequent: Block;
  /** An `else if` is an else block holding one IfStmt. */
  readonly alternate?: Block;
}
export interface ReturnStmt {
  readonly kind: 'return';
  readonly span: Span;
  readonly value?: Expr;
}
export interface Block {
  readonly kind: 'block';
  readonly span: Span;
  readonly body: readonly Stmt[];
}

export type Stmt = VarDecl | AssignStmt | ExprStmt | ForStmt | IfStmt | ReturnStmt | Block;

/** A whole kernel or fn body. */
export interface Program {
  readonly kind: 'program';
  readonly span: Span;
  readonly body: readonly Stmt[];
}
