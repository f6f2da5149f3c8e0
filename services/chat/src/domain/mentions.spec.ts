import type { Chat, ChatType, Member } from './chat.ts';
import { MENTION_ALL_KEY, mentionedUserIds, mentionKeysOf, mentionsIn } from './mentions.ts';

const t = new Date(0);
const member = (userId: string, nickname: string): Member => ({
  userId,
  role: 'member',
  nickname,
  avatarUrl: '',
  joinTime: t,
  profileTime: undefined,
});
const chatOf = (type: ChatType, ...members: Member[]): Chat => ({
  id: 'c',
  type,
  title: type === 'group' ? 'g' : '',
  description: '',
  avatarUrl: '',
  ownerId: '',
  directKey: '',
  members,
  createTime: t,
  lastActivityTime: t,
  lastSequence: 0,
  version: 1,
});
const group = chatOf(
  'group',
  member('u-ann', 'ann'),
  member('u-anna', 'Anna'),
  member('u-bob', 'bob.b'),
  member('u-nick', ''),
);
/** Each entity as the text it covers, with its target. */
const found = (text: string, chat: Chat = group) =>
  mentionsIn(text, chat).map((e) => [
    [...text].slice(e.offset, e.offset + e.length).join(''),
    e.kind === 'mention_all' ? 'all' : e.userId,
  ]);

describe('mentionsIn', () => {
  it('finds a member by nickname, case-insensitively, with code-point offsets', () => {
    expect(found('@ANN hi')).toEqual([['@ANN', 'u-ann']]);
    // The emoji is two UTF-16 units but one code point.
    expect(mentionsIn('😀 @ann', group)).toEqual([{ kind: 'mention', offset: 2, length: 4, userId: 'u-ann' }]);
  });

  it('ends a mention at punctuation after the nickname', () => {
    expect(found('thanks @ann, @anna! (@bob.b) @ann. @ann... @ann?')).toEqual([
      ['@ann', 'u-ann'],
      ['@anna', 'u-anna'],
      ['@bob.b', 'u-bob'],
      ['@ann', 'u-ann'],
      ['@ann', 'u-ann'],
      ['@ann', 'u-ann'],
    ]);
  });

  it('takes the longest nickname, and none when the word goes on past every nickname', () => {
    expect(found('@anna @annabel @ann_x @ann.x @bob @bob.b.')).toEqual([
      ['@anna', 'u-anna'],
      ['@bob.b', 'u-bob'],
    ]);
  });

  it('does not read an e-mail address or a doubled @ as a mention', () => {
    expect(found('mail ann@ann.com or x.@ann or @@ann or _@ann')).toEqual([]);
  });

  it('keeps every occurrence of a repeated mention', () => {
    expect(mentionsIn('@ann @ann', group).map((e) => e.offset)).toEqual([0, 5]);
  });

  it('ignores names of non-members and members without a nickname', () => {
    expect(found('@carol @ hi @')).toEqual([]);
  });

  it('reads @all as everyone in a group only', () => {
    expect(found('@ALL look')).toEqual([['@ALL', 'all']]);
    expect(found('@all look', chatOf('direct', member('u-ann', 'ann'), member('u-x', 'xyz')))).toEqual([]);
    expect(found('@allison', group)).toEqual([]);
  });
});

describe('mentionedUserIds and mentionKeysOf', () => {
  const members = ['u-ann', 'u-anna', 'u-bob'];
  it('names each mentioned member once, never the sender; @all names every member', () => {
    const message = { senderId: 'u-ann', entities: mentionsIn('@anna @ann @anna', group) };
    expect(mentionedUserIds(message, members)).toEqual(['u-anna']);
    expect(mentionKeysOf(message)).toEqual(['u-anna', 'u-ann']);
    const all = { senderId: 'u-ann', entities: mentionsIn('@bob.b @all', group) };
    expect(mentionedUserIds(all, members)).toEqual(['u-bob', 'u-anna']);
    expect(mentionKeysOf(all)).toEqual([MENTION_ALL_KEY]);
  });
});
