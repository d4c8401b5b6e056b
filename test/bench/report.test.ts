// The bench's writer for docs/benchmarks.md: it replaces only the text between its markers, so the
// hand-written analysis around them survives, and a quick run's block never touches the full one.
import { describe, expect, it } from 'vitest';
import { replaceBlock } from './report.js';

const FULL = ['<!-- bench:begin -->', '<!-- bench:end -->'] as const;
const PARTIAL = ['<!-- bench-partial:begin -->', '<!-- bench-partial:end -->'] as const;

describe('bench report markers', () => {
  const doc = [
    '# Benchmarks',
    'hand-written intro',
    FULL[0],
    'old full results',
    FULL[1],
    'analysis in between',
    PARTIAL[0],
    'old quick results',
    PARTIAL[1],
    'closing notes',
  ].join('\n');

  it('replaces the full block and keeps everything else', () => {
    const out = replaceBlock(doc, ...FULL, 'new full');
    expect(out).toBe(doc.replace('old full results', 'new full'));
  });

  it('a partial run replaces only the partial block', () => {
    const out = replaceBlock(doc, ...PARTIAL, 'new quick\n| a | b |');
    expect(out).toContain('old full results');
    expect(out).toContain('new quick\n| a | b |');
    expect(out).not.toContain('old quick results');
    expect(out.endsWith('closing notes')).toBe(true);
  });

  it('ignores markers quoted inline in prose', () => {
    const prose = `The bench writes between \`${FULL[0]}\` and \`${FULL[1]}\`.\n${doc}`;
    const out = replaceBlock(prose, ...FULL, 'new full');
    expect(out).toBe(prose.replace('old full results', 'new full'));
  });

  it('appends the markers when the file has none', () => {
    const out = replaceBlock('# Benchmarks\ntext\n', ...FULL, 'first');
    expect(out).toBe(`# Benchmarks\ntext\n\n${FULL[0]}\nfirst\n${FULL[1]}\n`);
  });

  it('rejects markers out of order or unpaired, naming the fix', () => {
    expect(() => replaceBlock(`${FULL[1]}\nx\n${FULL[0]}`, ...FULL, 'y')).toThrow(/not a pair in order/);
    expect(() => replaceBlock(`${FULL[0]}\nx`, ...FULL, 'y')).toThrow(/fix them by hand/);
  });
});
