// The emoji rule and the count arithmetic of reactions, on their own.
import { withReaction } from './chat.ts';
import { emojiProblem } from './validation.ts';

describe('emojiProblem', () => {
  it.each([['👍'], ['❤️'], ['👋🏽'], ['🇺🇦'], ['1️⃣'], ['#⃣'], ['👨‍👩‍👧‍👦'], ['🏴󠁧󠁢󠁳󠁣󠁴󠁿'], ['🙂🙂']])('accepts %s', (emoji) => {
    expect(emojiProblem(emoji)).toBeUndefined();
  });

  it.each([
    ['', 'is required'],
    ['ok', 'must be an emoji'],
    ['1', 'must be an emoji'],
    ['12⃣', 'must be an emoji'],
    [' 👍', 'must be an emoji'],
    ['👍!', 'must be an emoji'],
    ['\u200d\ufe0f', 'must be an emoji'],
    ['🏽', 'must be an emoji'],
    ['👍'.repeat(17), 'must be at most 16 characters'],
  ])('refuses %j: %s', (emoji, problem) => {
    expect(emojiProblem(emoji)).toBe(problem);
  });
});

describe('withReaction', () => {
  it('appends a new emoji, counts an existing one in place, and drops one whose count reaches 0', () => {
    const one = withReaction([], '👍', 1);
    expect(one).toEqual([{ emoji: '👍', count: 1 }]);
    const two = withReaction(withReaction(one, '🎉', 1), '👍', 1);
    expect(two).toEqual([
      { emoji: '👍', count: 2 },
      { emoji: '🎉', count: 1 },
    ]);
    expect(withReaction(two, '🎉', -1)).toEqual([{ emoji: '👍', count: 2 }]);
    expect(withReaction(withReaction(withReaction(two, '👍', -1), '👍', -1), '👍', 1)).toEqual([
      { emoji: '🎉', count: 1 },
      { emoji: '👍', count: 1 },
    ]);
  });
});
