import { highlightsOf, MAX_TERM_LENGTH, queryProblem, searchTermsOf, termOf } from './search.ts';

describe('search terms', () => {
  it('folds case, diacritics and compatibility forms the same way for texts and queries', () => {
    expect(searchTermsOf('Café CAFE cafe ＣＡＦＥ')).toEqual(['cafe']);
    expect(searchTermsOf('Zürich, São Paulo! Ångström?')).toEqual(['zurich', 'sao', 'paulo', 'angstrom']);
    expect(termOf('x'.repeat(MAX_TERM_LENGTH + 10))).toBe('x'.repeat(MAX_TERM_LENGTH));
  });

  it('cuts words by Unicode word segmentation, leaving punctuation, spaces and emoji out', () => {
    expect(searchTermsOf("don't stop — 42 times 🙂 east-west")).toEqual([
      "don't",
      'stop',
      '42',
      'times',
      'east',
      'west',
    ]);
    expect(searchTermsOf(' ?! … ')).toEqual([]);
  });

  it('highlights matching words as code point ranges, after astral characters too', () => {
    const text = '🙂 Café, then café again';
    const ranges = highlightsOf(text, searchTermsOf('CAFE'));
    expect(ranges).toEqual([
      { start: 2, end: 6 },
      { start: 13, end: 17 },
    ]);
    const points = [...text];
    expect(ranges.map((r) => points.slice(r.start, r.end).join(''))).toEqual(['Café', 'café']);
  });

  it('accepts a query of 1 to 8 distinct words within 256 characters', () => {
    expect(queryProblem('hello world')).toBeUndefined();
    expect(queryProblem('a a a a a a a a a b c d e f g h')).toBeUndefined();
    expect(queryProblem('')).toBe('is required');
    expect(queryProblem('  ')).toBe('is required');
    expect(queryProblem('?!')).toBe('must contain at least one word');
    expect(queryProblem('a b c d e f g h i')).toBe('must contain at most 8 distinct words');
    expect(queryProblem('é'.repeat(256))).toBeUndefined();
    expect(queryProblem('é'.repeat(257))).toBe('must be at most 256 characters');
  });
});
