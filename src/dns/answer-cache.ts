// Encoded answers, keyed by the received message minus its ID (question as asked, flags, EDNS)
// and the transport: found by a hash of those bytes, confirmed by comparing them. An answer is
// a pure function of that key, the settings and the gateway rows it looked up, so an entry
// lives until one of those rows changes (invalidate) or it ages out.
// Ageing is by generations: new answers go into the current one; when it is full it becomes
// the previous one and the old previous one is dropped whole (with its index of which answers
// came from which rows), except for the answers asked for meanwhile, which moved back into the
// current one. Every operation is O(1): no per-entry bookkeeping when a generation goes.

/** Entries kept at most (two generations of half as many); the 10,000-name benchmark asks for 35,000 distinct ones. */
const DEFAULT_CAPACITY = 100_000;

type Transport = "udp" | "tcp";

interface Entry {
  /** the message's bytes after its ID, as latin1 text, and its transport: what the hash stands for */
  query: string;
  transport: Transport;
  reply: Buffer;
  dependsOn: string[];
}

class Generation {
  readonly entries = new Map<number, Entry>();
  /** full name of a gateway row -> keys of answers built from it (may name answers gone since) */
  readonly keysByName = new Map<string, number[]>();

  add(key: number, entry: Entry): void {
    this.entries.set(key, entry);
    for (const name of entry.dependsOn) {
      const keys = this.keysByName.get(name);
      if (keys) keys.push(key);
      else this.keysByName.set(name, [key]);
    }
  }
}

export class AnswerCache {
  private current = new Generation();
  private previous = new Generation();
  private readonly generationSize: number;

  constructor(capacity = DEFAULT_CAPACITY) {
    this.generationSize = Math.max(1, Math.floor(capacity / 2));
  }

  /** FNV-1a over the bytes after the ID, and the transport: the same bytes always get the same answer. */
  private static hash(message: Buffer, transport: Transport): number {
    let h = transport === "udp" ? 0x811c9dc5 : 0x050c5d1f;
    for (let i = 2; i < message.length; i++) h = Math.imul(h ^ message[i], 0x01000193);
    return h >>> 0;
  }

  private static matches(entry: Entry, message: Buffer, transport: Transport): boolean {
    const { query } = entry;
    if (entry.transport !== transport || query.length !== message.length - 2) return false;
    for (let i = 0; i < query.length; i++) if (query.charCodeAt(i) !== message[i + 2]) return false;
    return true;
  }

  /** A copy of the reply cached for this message, carrying its ID, or undefined. */
  get(message: Buffer, transport: Transport): Buffer | undefined {
    const key = AnswerCache.hash(message, transport);
    let entry = this.current.entries.get(key);
    if (!entry) {
      entry = this.previous.entries.get(key);
      if (!entry) return undefined;
      this.previous.entries.delete(key);
      this.insert(key, entry);
    }
    if (!AnswerCache.matches(entry, message, transport)) return undefined;
    const reply = Buffer.allocUnsafe(entry.reply.length);
    entry.reply.copy(reply);
    reply[0] = message[0];
    reply[1] = message[1];
    return reply;
  }

  set(message: Buffer, transport: Transport, reply: Buffer, dependsOn: string[]): void {
    const key = AnswerCache.hash(message, transport);
    // also a different message with the same hash: the newer one wins
    this.previous.entries.delete(key);
    this.insert(key, { query: message.toString("latin1", 2), transport, reply, dependsOn });
  }

  /** Forgets every answer built from the row of this full name (lower case, trailing dot). */
  invalidate(name: string): void {
    for (const generation of [this.current, this.previous]) {
      const keys = generation.keysByName.get(name);
      if (!keys) continue;
      generation.keysByName.delete(name);
      for (const key of keys) {
        // an answer promoted from the previous generation is indexed in both
        if (this.current.entries.get(key)?.dependsOn.includes(name)) this.current.entries.delete(key);
        if (this.previous.entries.get(key)?.dependsOn.includes(name)) this.previous.entries.delete(key);
      }
    }
  }

  get size(): number {
    return this.current.entries.size + this.previous.entries.size;
  }

  private insert(key: number, entry: Entry): void {
    if (this.current.entries.size >= this.generationSize) {
      this.previous = this.current;
      this.current = new Generation();
    }
    this.current.add(key, entry);
  }
}
