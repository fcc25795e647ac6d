// /info's rows kept in memory: a SQLite point read from bun:sqlite costs 2-4 µs, most of an
// /info request. Exactness is the store's job (domains.ts): a ping or a challenge forgets its
// token, every other write forgets everything. Only rows found are kept, so unknown tokens
// cannot fill it. Ageing by two generations, as plain Maps: a full generation becomes the
// previous one and the old previous one is dropped whole.
import type { DomainInfo } from "./queries.ts";

/** Entries kept at most (two generations of half as many), about 400 bytes each. */
const DEFAULT_CAPACITY = 50_000;

export class InfoCache {
  private current = new Map<string, DomainInfo>();
  private previous = new Map<string, DomainInfo>();
  private readonly generationSize: number;

  /** capacity 0: keeps nothing */
  constructor(capacity = DEFAULT_CAPACITY) {
    this.generationSize = Math.floor(capacity / 2);
  }

  get(token: string): DomainInfo | undefined {
    const found = this.current.get(token);
    if (found || this.previous.size === 0) return found;
    const old = this.previous.get(token);
    if (old) {
      this.previous.delete(token);
      this.set(token, old);
    }
    return old;
  }

  set(token: string, info: DomainInfo): void {
    if (this.generationSize === 0) return;
    if (this.current.size >= this.generationSize) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(token, info);
  }

  forget(token: string): void {
    this.current.delete(token);
    this.previous.delete(token);
  }

  clear(): void {
    this.current = new Map();
    this.previous = new Map();
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}
