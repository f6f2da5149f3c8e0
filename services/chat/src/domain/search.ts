// Message search: how a text becomes search terms, the limits of a query,
// and where a found message's text matches. Every store adapter indexes the
// terms `searchTermsOf` gives, so matching and ranking are the same whatever
// the storage.
import type { Message } from './chat.ts';

/** Code points of a search query. */
export const MAX_QUERY_LENGTH = 256;
/** Distinct terms of a search query. */
export const MAX_QUERY_TERMS = 8;
/**
 * Code points kept of a term, in the index and in a query alike: a longer
 * word matches any word with the same first `MAX_TERM_LENGTH` code points,
 * and one pasted blob of text cannot make a huge index key.
 */
export const MAX_TERM_LENGTH = 64;

/** A position in a search's results: most terms matched first, then newest, then message id descending. */
export interface SearchCursor {
  readonly matchedTerms: number;
  readonly createTime: Date;
  readonly messageId: string;
}

/** A message a search found, with how many distinct query terms its text has. */
export interface SearchHit {
  readonly message: Message;
  readonly matchedTerms: number;
}

/** A found message with the ranges of its text that match: code point offsets, `end` excluded. */
export interface SearchResult extends SearchHit {
  readonly highlights: readonly { readonly start: number; readonly end: number }[];
}

// A fixed locale, so segmentation never depends on the host's.
const words = new Intl.Segmenter('und', { granularity: 'word' });

/**
 * One word as a term: compatibility-decomposed (NFKD), without combining
 * marks (so "Café" and "cafe" are one term), lower-cased locale-independently,
 * cut to `MAX_TERM_LENGTH` code points.
 */
export function termOf(word: string): string {
  const folded = word.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().normalize('NFC');
  return [...folded].slice(0, MAX_TERM_LENGTH).join('');
}

/** The words of a text (Unicode word segmentation) with their UTF-16 offsets, punctuation and spaces left out. */
function wordsOf(text: string): { word: string; index: number }[] {
  return [...words.segment(text)]
    .filter((s) => s.isWordLike)
    .map((s) => ({ word: s.segment, index: s.index }))
    .filter((w) => termOf(w.word) !== '');
}

/** The distinct terms of a text, in first-seen order: what a message is indexed under. */
export function searchTermsOf(text: string): string[] {
  return [...new Set(wordsOf(text).map((w) => termOf(w.word)))];
}

/** The query's problem for INVALID_ARGUMENT (field `query`), or undefined when it can be searched. */
export function queryProblem(query: string): string | undefined {
  if (query.trim() === '') return 'is required';
  if ([...query].length > MAX_QUERY_LENGTH) return `must be at most ${MAX_QUERY_LENGTH} characters`;
  const terms = searchTermsOf(query);
  if (terms.length === 0) return 'must contain at least one word';
  if (terms.length > MAX_QUERY_TERMS) return `must contain at most ${MAX_QUERY_TERMS} distinct words`;
  return undefined;
}

/** The ranges of `text` whose words are among `terms`, in text order, as code point offsets. */
export function highlightsOf(text: string, terms: readonly string[]): { start: number; end: number }[] {
  const wanted = new Set(terms);
  const ranges: { start: number; end: number }[] = [];
  // Offsets are counted on from the previous word, so a long text is walked once.
  let unit = 0;
  let codePoint = 0;
  for (const { word, index } of wordsOf(text)) {
    codePoint += [...text.slice(unit, index)].length;
    unit = index;
    if (wanted.has(termOf(word))) ranges.push({ start: codePoint, end: codePoint + [...word].length });
  }
  return ranges;
}

/** Whether a hit comes after the cursor in result order. */
export function isAfter(hit: SearchHit, cursor: SearchCursor): boolean {
  if (hit.matchedTerms !== cursor.matchedTerms) return hit.matchedTerms < cursor.matchedTerms;
  const time = hit.message.createTime.getTime();
  if (time !== cursor.createTime.getTime()) return time < cursor.createTime.getTime();
  return hit.message.id < cursor.messageId;
}

/** Result order: most terms matched first, then newest, then message id descending. */
export function compareHits(a: SearchHit, b: SearchHit): number {
  return (
    b.matchedTerms - a.matchedTerms ||
    b.message.createTime.getTime() - a.message.createTime.getTime() ||
    (a.message.id < b.message.id ? 1 : a.message.id > b.message.id ? -1 : 0)
  );
}
