// inTransaction's commit callbacks, against a stand-in for the driver's
// session (no server needed): the driver's retry and abort are what matter.
import type { ClientSession, MongoClient } from 'mongodb';
import { afterCommit, inTransaction, TransactionRetriesExhausted, type TransactionRetry } from './transaction.ts';

/** A client whose transactions run `work` once per entry of `runs`: `retry` as a transient failure, `abort` as a final one. */
function fakeClient(runs: readonly ('commit' | 'retry' | 'abort')[]): MongoClient {
  const session = {
    async withTransaction<T>(work: () => Promise<T>): Promise<T> {
      for (const run of runs) {
        const result = await work();
        if (run === 'commit') return result;
        if (run === 'abort') throw new Error('aborted');
      }
      throw new Error('gave up');
    },
  };
  const client = {
    withSession: <T>(fn: (s: ClientSession) => Promise<T>) => fn(session as unknown as ClientSession),
  };
  return client as unknown as MongoClient;
}

describe('inTransaction and afterCommit', () => {
  it('runs what the committed run registered, once, after the commit', async () => {
    const calls: string[] = [];
    let run = 0;
    const wake = () => calls.push(`wake ${run}`);
    const result = await inTransaction(fakeClient(['retry', 'commit']), async (session) => {
      run++;
      afterCommit(session, wake);
      afterCommit(session, wake);
      calls.push(`work ${run}`);
      return run;
    });
    expect(result).toBe(2);
    expect(calls).toEqual(['work 1', 'work 2', 'wake 2']);
  });

  it('runs nothing when the transaction aborts', async () => {
    let woken = false;
    const running = inTransaction(fakeClient(['abort']), async (session) => {
      afterCommit(session, () => {
        woken = true;
      });
    });
    await expect(running).rejects.toThrow('aborted');
    expect(woken).toBe(false);
  });

  it('reruns a conflicting transaction within the retry budget', async () => {
    let runs = 0;
    const retry: TransactionRetry = { totalMs: 100, now: () => runs * 10 };
    const running = inTransaction(fakeClient(['retry', 'retry', 'commit']), async () => ++runs, {}, retry);
    await expect(running).resolves.toBe(3);
  });

  it('stops rerunning, without another run, once the retry budget has passed', async () => {
    let clock = 0;
    const retry: TransactionRetry = { totalMs: 100, now: () => clock };
    let runs = 0;
    const running = inTransaction(
      fakeClient(['retry', 'retry', 'retry', 'commit']),
      async () => {
        runs++;
        clock += 60;
      },
      {},
      retry,
    );
    await expect(running).rejects.toBeInstanceOf(TransactionRetriesExhausted);
    expect(runs).toBe(2);
  });

  it('refuses a session no inTransaction runs', () => {
    expect(() => afterCommit({} as ClientSession, () => {})).toThrow(/inTransaction/);
  });
});
