// Encoded answers, keyed by the received message minus its ID (question as asked, flags, EDNS)
// and the transport. An answer is a pure function of that key, the settings and the gateway rows
// it looked up, so an entry lives until one of those rows changes (invalidate) or it ages out.
// Ageing is by generations: new answers go into the current one; when it is full it becomes
// the previous one and the old previous one is dropped whole, except for the answers asked for
// meanwhile, which moved back into the current one. Every operation is O(1) amortized (a Map
// that keeps evicting its oldest key slows down on the deleted slots it has to skip).

/** Entries kept at most (two generations of half as many); the 10,000-name benchmark asks for 35,000 distinct ones. */
const DEFAULT_CAPACITY = 100_000;

interface Entry {
  reply: Buffer;
  /** lower-case full names of the gateway rows the answer was built from */
  dependsOn: string[];
}

export class AnswerCache {
  private current = new Map<string, Entry>();
  private previous = new Map<string, Entry>();
  private readonly keysByName = new Map<string, Set<string>>();
  private readonly generationSize: number;

  constructor(capacity = DEFAULT_CAPACITY) {
    this.generationSize = Math.max(1, Math.floor(capacity / 2));
  }

  /** The key of a received message; the same bytes after the ID always get the same answer. */
  static key(message: Buffer, transport: "udp" | "tcp"): string {
    return (transport === "udp" ? "u" : "t") + message.toString("latin1", 2);
  }

  /** A copy of the cached reply carrying `id`, or undefined. */
  get(key: string, idHigh: number, idLow: number): Buffer | undefined {
    let entry = this.current.get(key);
    if (!entry) {
      entry = this.previous.get(key);
      if (!entry) return undefined;
      this.previous.delete(key);
      this.insert(key, entry);
    }
    const reply = Buffer.allocUnsafe(entry.reply.length);
    entry.reply.copy(reply);
    reply[0] = idHigh;
    reply[1] = idLow;
    return reply;
  }

  set(key: string, reply: Buffer, dependsOn: string[]): void {
    this.evict(key);
    this.insert(key, { reply, dependsOn });
    for (const name of dependsOn) {
      let keys = this.keysByName.get(name);
      if (!keys) this.keysByName.set(name, (keys = new Set()));
      keys.add(key);
    }
  }

  /** Forgets every answer built from the row of this full name (lower case, trailing dot). */
  invalidate(name: string): void {
    const keys = this.keysByName.get(name);
    if (!keys) return;
    for (const key of [...keys]) this.evict(key);
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  private insert(key: string, entry: Entry): void {
    if (this.current.size >= this.generationSize) {
      for (const [old, dropped] of this.previous) this.forgetDependencies(old, dropped);
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(key, entry);
  }

  private evict(key: string): void {
    const entry = this.current.get(key) ?? this.previous.get(key);
    if (!entry) return;
    this.current.delete(key);
    this.previous.delete(key);
    this.forgetDependencies(key, entry);
  }

  private forgetDependencies(key: string, entry: Entry): void {
    for (const name of entry.dependsOn) {
      const keys = this.keysByName.get(name);
      keys?.delete(key);
      if (keys?.size === 0) this.keysByName.delete(name);
    }
  }
}
