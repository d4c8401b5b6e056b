// Static evaluation of kernel signatures and `${}` interpolations: literals, const initializers
// (imported ones too), literal types, and tilevm's own pure builders (global(), dtypes, layouts,
// fn templates). User code is never executed: anything else is NotStatic, naming why and where.

import { Node, SyntaxKind, type TaggedTemplateExpression } from 'ts-morph';
import * as tilevm from '../../dsl/index.js';
import { DeviceFn, Layout } from '../../dsl/index.js';
import { type TemplateText, templateText } from './template.js';
import { isTilevmFile, templateTagKind, tilevmExportName } from './tilevm-symbols.js';

/** Why an expression has no build-time value, and the node that stopped it. */
export class NotStatic extends Error {
  constructor(
    readonly reason: string,
    readonly node: Node,
  ) {
    super(reason);
  }
}

/** The value of a node whose TypeScript type is a single literal (64, 'fast', true). */
function literalOf(node: Node): { found: boolean; value?: unknown } {
  const type = node.getType();
  if (type.isNumberLiteral() || type.isStringLiteral()) return { found: true, value: type.getLiteralValue() };
  if (type.isBooleanLiteral()) return { found: true, value: type.getText() === 'true' };
  return { found: false };
}

/** tilevm functions that may run at build time: pure builders of signature and layout values. */
const CALLABLE = new Set([
  'global',
  'local',
  'spatial',
  'columnLocal',
  'columnSpatial',
  'replicated',
  'cdiv',
]);
const LAYOUT_METHODS = new Set(['local', 'spatial', 'columnLocal', 'columnSpatial', 'replicate', 'product']);

const BINARY: Partial<Record<SyntaxKind, (a: number, b: number) => number>> = {
  [SyntaxKind.AsteriskToken]: (a, b) => a * b,
  [SyntaxKind.SlashToken]: (a, b) => a / b,
  [SyntaxKind.PercentToken]: (a, b) => a % b,
  [SyntaxKind.MinusToken]: (a, b) => a - b,
  [SyntaxKind.AsteriskAsteriskToken]: (a, b) => a ** b,
  [SyntaxKind.LessThanLessThanToken]: (a, b) => a << b,
  [SyntaxKind.GreaterThanGreaterThanToken]: (a, b) => a >> b,
  [SyntaxKind.GreaterThanGreaterThanGreaterThanToken]: (a, b) => a >>> b,
  [SyntaxKind.AmpersandToken]: (a, b) => a & b,
  [SyntaxKind.BarToken]: (a, b) => a | b,
  [SyntaxKind.CaretToken]: (a, b) => a ^ b,
};

const COMPARE: Partial<Record<SyntaxKind, (a: number, b: number) => boolean>> = {
  [SyntaxKind.LessThanToken]: (a, b) => a < b,
  [SyntaxKind.LessThanEqualsToken]: (a, b) => a <= b,
  [SyntaxKind.GreaterThanToken]: (a, b) => a > b,
  [SyntaxKind.GreaterThanEqualsToken]: (a, b) => a >= b,
  [SyntaxKind.EqualsEqualsEqualsToken]: (a, b) => a === b,
  [SyntaxKind.ExclamationEqualsEqualsToken]: (a, b) => a !== b,
};

/**
 * Evaluates expressions of one build. Values of const declarations and fn templates are cached
 * (a fn used by several kernels is one DeviceFn), and each fn's template is remembered so its
 * diagnostics map back to the .ts file.
 */
export class StaticEvaluator {
  private readonly declValues = new Map<Node, unknown>();
  private readonly inProgress = new Set<Node>();
  /** Template text of every fn built here, by its SourceText. */
  readonly fnTemplates = new Map<unknown, TemplateText>();

  evaluate(node: Node): unknown {
    if (
      Node.isParenthesizedExpression(node) ||
      Node.isAsExpression(node) ||
      Node.isSatisfiesExpression(node) ||
      Node.isNonNullExpression(node) ||
      Node.isTypeAssertion(node)
    ) {
      return this.evaluate(node.getExpression());
    }
    if (Node.isNumericLiteral(node)) return node.getLiteralValue();
    if (Node.isStringLiteral(node) || Node.isNoSubstitutionTemplateLiteral(node))
      return node.getLiteralValue();
    if (Node.isTrueLiteral(node)) return true;
    if (Node.isFalseLiteral(node)) return false;
    if (Node.isNullLiteral(node)) return null;
    if (Node.isTemplateExpression(node)) {
      let text = node.getHead().getLiteralText();
      for (const span of node.getTemplateSpans()) {
        text += String(this.evaluate(span.getExpression())) + span.getLiteral().getLiteralText();
      }
      return text;
    }
    if (Node.isPrefixUnaryExpression(node)) return this.prefix(node.getOperatorToken(), node.getOperand());
    if (Node.isBinaryExpression(node)) return this.binary(node);
    if (Node.isConditionalExpression(node)) {
      return this.evaluate(node.getCondition())
        ? this.evaluate(node.getWhenTrue())
        : this.evaluate(node.getWhenFalse());
    }
    if (Node.isArrayLiteralExpression(node)) {
      const out: unknown[] = [];
      for (const e of node.getElements()) {
        if (Node.isSpreadElement(e)) out.push(...this.iterable(e.getExpression()));
        else out.push(this.evaluate(e));
      }
      return out;
    }
    if (Node.isObjectLiteralExpression(node)) return this.object(node);
    if (Node.isIdentifier(node)) return this.identifier(node);
    if (Node.isPropertyAccessExpression(node))
      return this.property(node, node.getExpression(), node.getName());
    if (Node.isElementAccessExpression(node)) {
      const key = node.getArgumentExpression();
      if (!key) throw new NotStatic('an element access without an index', node);
      return this.property(node, node.getExpression(), this.evaluate(key));
    }
    if (Node.isCallExpression(node)) return this.call(node);
    if (Node.isTaggedTemplateExpression(node)) return this.tagged(node);
    throw new NotStatic(`${node.getKindName()} is not evaluated at build time`, node);
  }

  private prefix(op: SyntaxKind, operand: Node): unknown {
    const v = this.evaluate(operand);
    if (op === SyntaxKind.ExclamationToken) return !v;
    if (typeof v !== 'number') throw new NotStatic('an arithmetic operator on a non-number', operand);
    if (op === SyntaxKind.MinusToken) return -v;
    if (op === SyntaxKind.PlusToken) return v;
    if (op === SyntaxKind.TildeToken) return ~v;
    throw new NotStatic('this operator is not evaluated at build time', operand);
  }

  private binary(node: import('ts-morph').BinaryExpression): unknown {
    const op = node.getOperatorToken().getKind();
    const left = this.evaluate(node.getLeft());
    if (op === SyntaxKind.AmpersandAmpersandToken) return left && this.evaluate(node.getRight());
    if (op === SyntaxKind.BarBarToken) return left || this.evaluate(node.getRight());
    if (op === SyntaxKind.QuestionQuestionToken) return left ?? this.evaluate(node.getRight());
    const right = this.evaluate(node.getRight());
    if (op === SyntaxKind.PlusToken) {
      if (typeof left === 'number' && typeof right === 'number') return left + right;
      if (typeof left === 'string' || typeof right === 'string') return String(left) + String(right);
    }
    const arith = BINARY[op] ?? COMPARE[op];
    if (arith && typeof left === 'number' && typeof right === 'number') return arith(left, right);
    if (op === SyntaxKind.EqualsEqualsEqualsToken) return left === right;
    if (op === SyntaxKind.ExclamationEqualsEqualsToken) return left !== right;
    throw new NotStatic(`the operator '${node.getOperatorToken().getText()}' on these values`, node);
  }

  private iterable(node: Node): unknown[] {
    const v = this.evaluate(node);
    if (!Array.isArray(v)) throw new NotStatic('a spread of something that is not an array', node);
    return v;
  }

  private object(node: import('ts-morph').ObjectLiteralExpression): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const p of node.getProperties()) {
      if (Node.isPropertyAssignment(p)) {
        const nameNode = p.getNameNode();
        const key = Node.isComputedPropertyName(nameNode)
          ? String(this.evaluate(nameNode.getExpression()))
          : Node.isStringLiteral(nameNode) || Node.isNumericLiteral(nameNode)
            ? String(nameNode.getLiteralValue())
            : nameNode.getText();
        out[key] = this.evaluate(p.getInitializerOrThrow());
      } else if (Node.isShorthandPropertyAssignment(p)) {
        out[p.getName()] = this.evaluate(p.getNameNode());
      } else if (Node.isSpreadAssignment(p)) {
        const v = this.evaluate(p.getExpression());
        if (typeof v !== 'object' || v === null) throw new NotStatic('a spread of a non-object', p);
        Object.assign(out, v);
      } else {
        throw new NotStatic('a method or accessor in an object literal', p);
      }
    }
    return out;
  }

  private identifier(node: import('ts-morph').Identifier): unknown {
    const text = node.getText();
    if (this.isTilevmNamespace(node)) return tilevm;
    const name = tilevmExportName(node);
    if (name !== undefined) {
      if (!Object.hasOwn(tilevm, name))
        throw new NotStatic(`tilevm's '${name}' has no build-time value`, node);
      return (tilevm as Record<string, unknown>)[name];
    }
    if (text === 'undefined') return undefined;
    if (text === 'Infinity') return Number.POSITIVE_INFINITY;
    if (text === 'NaN') return Number.NaN;
    const symbol = node.getSymbol();
    const target = symbol?.isAlias() ? symbol.getAliasedSymbol() : symbol;
    const decl = target?.getValueDeclaration() ?? target?.getDeclarations()[0];
    if (decl && Node.isVariableDeclaration(decl)) {
      const isConst = decl.getVariableStatement()?.getDeclarationKind() === 'const';
      const init = decl.getInitializer();
      if (isConst && init && Node.isIdentifier(decl.getNameNode())) {
        try {
          return this.declaration(decl, init);
        } catch (e) {
          // The initializer is out of reach (a call), but its type may still be one literal.
          const literal = literalOf(node);
          if (literal.found) return literal.value;
          throw e;
        }
      }
    }
    // A literal type says the value without running anything: `declare const BN: 64`.
    const literal = literalOf(node);
    if (literal.found) return literal.value;
    const why =
      decl && Node.isParameterDeclaration(decl) ? 'a function parameter' : 'not a const with a static value';
    throw new NotStatic(`'${text}' is ${why}`, node);
  }

  /** `tv` in `import * as tv from 'tilevm'`. */
  private isTilevmNamespace(node: Node): boolean {
    const decl = node.getSymbol()?.getDeclarations()[0];
    if (!decl || !Node.isNamespaceImport(decl)) return false;
    const importDecl = decl.getFirstAncestorByKind(SyntaxKind.ImportDeclaration);
    if (!importDecl) return false;
    const target = importDecl.getModuleSpecifierSourceFile();
    return target ? isTilevmFile(target.getFilePath()) : importDecl.getModuleSpecifierValue() === 'tilevm';
  }

  private declaration(decl: Node, init: Node): unknown {
    if (this.declValues.has(decl)) return this.declValues.get(decl);
    if (this.inProgress.has(decl)) throw new NotStatic('a const that refers to itself', init);
    this.inProgress.add(decl);
    try {
      const value = this.evaluate(init);
      this.declValues.set(decl, value);
      return value;
    } finally {
      this.inProgress.delete(decl);
    }
  }

  private property(node: Node, objectNode: Node, key: unknown): unknown {
    const obj = this.evaluate(objectNode);
    if ((typeof obj !== 'object' && typeof obj !== 'string') || obj === null) {
      throw new NotStatic(`a property of ${obj === null ? 'null' : typeof obj}`, node);
    }
    if (typeof key !== 'string' && typeof key !== 'number')
      throw new NotStatic('a computed property key', node);
    if (typeof obj === 'string') {
      if (key === 'length') return obj.length;
      throw new NotStatic(`the string property '${key}'`, node);
    }
    if (!Object.hasOwn(obj, key))
      throw new NotStatic(`'${key}' is not a static property of this value`, node);
    const v = (obj as Record<string | number, unknown>)[key];
    if (typeof v === 'function') throw new NotStatic(`'${key}' is a function`, node);
    return v;
  }

  private call(node: import('ts-morph').CallExpression): unknown {
    const callee = node.getExpression();
    const args = () => node.getArguments().map((a) => this.evaluate(a));
    const library = tilevm as unknown as Record<string, (...a: unknown[]) => unknown>;
    if (Node.isIdentifier(callee)) {
      const name = tilevmExportName(callee);
      if (name !== undefined && CALLABLE.has(name)) return this.library(node, () => library[name](...args()));
    }
    if (Node.isPropertyAccessExpression(callee)) {
      // `tv.global(...)` on a namespace import, or a layout method: `spatial(32).local(2)`.
      const target = this.evaluate(callee.getExpression());
      const name = callee.getName();
      if (target === tilevm && CALLABLE.has(name)) return this.library(node, () => library[name](...args()));
      if (target instanceof Layout && LAYOUT_METHODS.has(name)) {
        const method = (target as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
        return this.library(node, () => method.apply(target, args()));
      }
    }
    throw new NotStatic(
      `a call to '${callee.getText()}' (only tilevm's global(), layout builders and cdiv() run at build time)`,
      node,
    );
  }

  /** Runs one of tilevm's own builders; its errors (a bad layout) are reported at the call. */
  private library(node: Node, run: () => unknown): unknown {
    try {
      return run();
    } catch (e) {
      if (e instanceof NotStatic) throw e;
      throw new NotStatic(`${node.getText()} throws: ${(e as Error).message}`, node);
    }
  }

  private tagged(node: TaggedTemplateExpression): unknown {
    const kind = templateTagKind(node.getTag());
    if (kind !== 'fn') throw new NotStatic('a tagged template that is not a tilevm fn', node);
    const cached = this.declValues.get(node);
    if (cached) return cached;
    const signature = this.evaluate((node.getTag() as import('ts-morph').CallExpression).getArguments()[0]);
    const text = templateText(node);
    const values = text.expressions.map((e) => this.evaluate(e));
    const deviceFn = new DeviceFn(signature as tilevm.FnSignature, text.parts, values);
    this.fnTemplates.set(deviceFn.source, text);
    this.declValues.set(node, deviceFn);
    return deviceFn;
  }
}
