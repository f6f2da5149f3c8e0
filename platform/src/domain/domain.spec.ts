import { callerId } from './actor.ts';
import { DomainError, ErrorKind, throwIfInvalid, violation } from './errors.ts';
import { retryOnRace } from './retry-on-race.ts';
import { StoreFailure } from './store-failure.ts';

class TestStoreError extends StoreFailure<'conflict' | 'duplicate' | 'gone'> {}

describe('validation helpers', () => {
  it('names every violation at once', () => {
    let thrown: unknown;
    try {
      throwIfInvalid([violation('a', 'is required'), violation('b', undefined), violation('c', 'must be a UUID')]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DomainError);
    expect(thrown).toMatchObject({
      kind: ErrorKind.InvalidArgument,
      violations: [
        { field: 'a', description: 'is required' },
        { field: 'c', description: 'must be a UUID' },
      ],
    });
  });

  it('passes when nothing is wrong', () => {
    expect(() => throwIfInvalid([violation('a', undefined)])).not.toThrow();
  });
});

describe('callerId', () => {
  it("is a signed-in user's canonical id", () => {
    expect(callerId({ kind: 'user', userId: 'ABC-def' })).toBe('abc-def');
  });

  it('refuses a service credential', () => {
    expect(() => callerId({ kind: 'service', service: 'chat' })).toThrow(
      expect.objectContaining({ kind: ErrorKind.PermissionDenied, reason: 'USER_CALLER_REQUIRED' }),
    );
  });
});

describe('retryOnRace', () => {
  it('tries again after a lost race and returns the winning attempt', async () => {
    let n = 0;
    const result = await retryOnRace(
      async () => {
        n++;
        if (n < 3) throw new TestStoreError(n === 1 ? 'conflict' : 'duplicate', 'raced');
        return n;
      },
      { on: ['conflict', 'duplicate'], subject: 'the thing' },
    );
    expect(result).toBe(3);
  });

  it('gives up with ABORTED after the last attempt', async () => {
    let n = 0;
    const failing = retryOnRace(
      async () => {
        n++;
        throw new TestStoreError('conflict', 'raced');
      },
      { on: ['conflict'], subject: 'the chat', attempts: 4 },
    );
    await expect(failing).rejects.toMatchObject({
      kind: ErrorKind.Aborted,
      reason: 'CONCURRENT_CHANGE',
      message: 'the chat kept changing; try again',
    });
    expect(n).toBe(4);
  });

  it('passes other failures through at once', async () => {
    let n = 0;
    const gone = new TestStoreError('gone', 'not a race');
    await expect(
      retryOnRace(
        async () => {
          n++;
          throw gone;
        },
        { on: ['conflict'], subject: 'x' },
      ),
    ).rejects.toBe(gone);
    expect(n).toBe(1);
  });
});
