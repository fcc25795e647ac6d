// Encoded answers, keyed by the received message minus its ID (question as asked, flags, EDNS)
// and the transport. An answer is a pure function of that key, the settings and the gateway rows
// it looked up, so an entry lives until one of those rows changes (invalidate) or the cache is
// full and it is the oldest not asked for since it was last passed over ("second chance").

/** Entries kept; beyond it the oldest goes (random names asked once must not grow it forever). */
const DEFAULT_CAPACITY = 50_000;

interface Entry {
  reply: Buffer;
  /** lower-case full names of the gateway rows the answer was built from */
  dependsOn: string[];
  /** asked for since eviction last passed over it */
  used: boolean;
}

export class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  private readonly keysByName = new Map<string, Set<string>>();

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  /** The key of a received message; the same bytes after the ID always get the same answer. */
  static key(message: Buffer, transport: "udp" | "tcp"): string {
    return (transport === "udp" ? "u" : "t") + message.toString("latin1", 2);
  }

  /** A copy of the cached reply carrying `id`, or undefined. */
  get(key: string, idHigh: number, idLow: number): Buffer | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    entry.used = true;
    const reply = Buffer.allocUnsafe(entry.reply.length);
    entry.reply.copy(reply);
    reply[0] = idHigh;
    reply[1] = idLow;
    return reply;
  }

  set(key: string, reply: Buffer, dependsOn: string[]): void {
    if (this.entries.size >= this.capacity) this.evictOne();
    this.entries.set(key, { reply, dependsOn, used: false });
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
    for (const key of keys) this.evict(key);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The oldest entry not used since it was last passed over goes; used ones move to the back. */
  private evictOne(): void {
    for (let passedOver = 0; passedOver < this.entries.size; passedOver++) {
      const [key, entry] = this.entries.entries().next().value!;
      if (!entry.used) return this.evict(key);
      entry.used = false;
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    this.evict(this.entries.keys().next().value!);
  }

  private evict(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    for (const name of entry.dependsOn) {
      const keys = this.keysByName.get(name);
      keys?.delete(key);
      if (keys?.size === 0) this.keysByName.delete(name);
    }
  }
}
