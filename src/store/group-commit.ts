// Group commit: the small writes that arrive in one event-loop turn are applied in one
// transaction, so a burst of pings costs one WAL commit instead of one each. A caller's
// promise settles only after that commit, so an acknowledged write survives kill -9.
import type { Database } from "bun:sqlite";

interface Pending<A, R> {
  item: A;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export function groupCommit<A, R>(sqlite: Database, apply: (item: A) => R): (item: A) => Promise<R> {
  let queue: Pending<A, R>[] = [];

  function commit() {
    const batch = queue;
    queue = [];
    let results: R[];
    try {
      results = sqlite.transaction(() => batch.map((pending) => apply(pending.item)))();
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    for (let i = 0; i < batch.length; i++) batch[i].resolve(results[i]);
  }

  return (item) =>
    new Promise<R>((resolve, reject) => {
      // setImmediate runs after the requests already read in this turn have queued theirs.
      if (queue.push({ item, resolve, reject }) === 1) setImmediate(commit);
    });
}
