// Encoded answers, keyed by the received message minus its ID (question as asked, flags, EDNS)
// and the transport: found by a hash of those bytes, confirmed by comparing them. An answer is
// a pure function of that key, the settings and the gateway rows it looked up, so an entry
// lives until one of those rows changes (invalidate) or it ages out.
//
// Everything lives in a few typed arrays allocated once, not in JS objects: a cache of Maps,
// strings and Buffers churned through garbage collection under a workload of many distinct
// questions (1M names), and the pauses (50-70 ms) cost lost UDP queries and 300+ MB of RSS.
// - Entries are appended to a ring of bytes; the oldest are overwritten when it wraps. An
//   entry asked for while in the older half of the ring is copied to the head, so what is
//   asked often stays.
// - A two-way set-associative table maps the key's hash to an entry's position.
// - Invalidation is by version: each gateway name hashes to a bucket with a counter; an entry
//   records the counters of the buckets of the rows it was built from, and is valid only
//   while they are unchanged. invalidate() bumps one counter: O(1), and a name sharing a
//   bucket only ever costs a miss, never a stale answer.
// - The counters (AnswerVersions) live in a SharedArrayBuffer: the cache is used by the DNS
//   worker thread, while the thread that commits a write bumps the counters (Atomics) before
//   the write is acknowledged, so the very next query misses without any message passing.
//   An entry records the counters as read before its rows were looked up: a write committed
//   during the lookup then leaves the entry stale at birth rather than wrongly current.
// - One more shared counter, the generation, forgets every answer at once (a settings reload
//   changed the static records): an entry keeps the low 16 bits of the generation it was
//   built under and is valid only while they match. Bump it in the thread that swapped the
//   zone, after the swap, so no answer of the old zone is stored under the new generation.
// - The zone's published SOA serial lives in the same buffer (setSerial, serial), so the DNS
//   thread's SOA changes with the store's publisher; answers that carry the SOA depend on the
//   pseudo-name SERIAL_NAME, whose counter setSerial bumps after it stores the new serial.

/** Bytes of entries kept; the 10,000-name benchmark asks for 35,000 distinct messages of ~200 bytes each. */
const DEFAULT_CAPACITY_BYTES = 24 << 20;
const SET_BITS = 17; // 131,072 sets of two slots
const VERSION_BUCKET_BITS = 18; // 262,144 counters
/** The counter after the buckets: the whole cache's generation. */
const GENERATION = 1 << VERSION_BUCKET_BITS;
/** After it: the published SOA serial, and whether one was set (1). */
const SERIAL = GENERATION + 1;
const SERIAL_SET = GENERATION + 2;
/** What an answer carrying the SOA depends on, as if a row: no gateway name has a space in it. */
export const SERIAL_NAME = " serial";
/** An answer built from more rows than this (a long CNAME chain) is not cached. */
const MAX_DEPENDENCIES = 8;

// Entry layout, 4-byte aligned: u32 hash | u16 query length | u16 reply length |
// u8 transport | u8 dependency count | u16 generation (low bits) | per dependency: u32 bucket, u32 version |
// query bytes (the message after its ID) | reply bytes.
const HEADER_BYTES = 12;

type Transport = "udp" | "tcp";

function bucketOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (h >>> 0) & ((1 << VERSION_BUCKET_BITS) - 1);
}

/**
 * The per-bucket version counters, shareable between threads: hand `buffer` to another thread
 * (postMessage) and wrap it there with `new AnswerVersions(buffer)`; both then see one set.
 */
export class AnswerVersions {
  readonly counters: Uint32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(4 * (SERIAL_SET + 1))) {
    this.counters = new Uint32Array(buffer);
  }

  /** Forgets every answer in every cache over these counters (the zone's static records changed). */
  forgetAll(): void {
    Atomics.add(this.counters, GENERATION, 1);
  }

  /** The low 16 bits of the whole-cache generation, as an entry records it. */
  generation(): number {
    return Atomics.load(this.counters, GENERATION) & 0xffff;
  }

  /** Forgets, in every cache over these counters, the answers built from this full name's row (lower case, trailing dot). */
  invalidate(name: string): void {
    Atomics.add(this.counters, bucketOf(name), 1); // wraps modulo 2^32
  }

  /** The zone's SOA serial from now on: answers carrying the old one (dependent on SERIAL_NAME) are forgotten. */
  setSerial(serial: number): void {
    Atomics.store(this.counters, SERIAL, serial >>> 0);
    Atomics.store(this.counters, SERIAL_SET, 1);
    this.invalidate(SERIAL_NAME); // after the store: an answer built with the new counter has the new serial
  }

  /** The serial setSerial stored, or undefined before any (the configured dns.soa serial applies then). */
  serial(): number | undefined {
    return Atomics.load(this.counters, SERIAL_SET) === 1 ? Atomics.load(this.counters, SERIAL) : undefined;
  }

  /** The counter of a name's bucket, read before its row is looked up. */
  of(name: string): number {
    return Atomics.load(this.counters, bucketOf(name));
  }
}

export interface AnswerCacheStats {
  hits: number;
  misses: number;
}

export class AnswerCache {
  private readonly bytes: Uint8Array;
  private readonly words: Uint32Array;
  private readonly capacity: number;
  /** bytes ever written: the ring's head is at writePos % capacity */
  private writePos = 0;
  /** per slot: position the entry was written at, plus one (0: empty) */
  private readonly slotPos = new Float64Array(2 << SET_BITS);
  private readonly slotHash = new Uint32Array(2 << SET_BITS);
  private readonly versions: Uint32Array;
  private readonly scratchDeps = new Uint32Array(2 * MAX_DEPENDENCIES);
  readonly stats: AnswerCacheStats = { hits: 0, misses: 0 };

  constructor(
    capacityBytes = DEFAULT_CAPACITY_BYTES,
    /** counters possibly shared with the thread that writes (see AnswerVersions) */
    readonly shared: AnswerVersions = new AnswerVersions(),
  ) {
    this.versions = shared.counters;
    this.capacity = Math.max(256, capacityBytes - (capacityBytes % 4));
    const buffer = new ArrayBuffer(this.capacity);
    this.bytes = new Uint8Array(buffer);
    this.words = new Uint32Array(buffer);
  }

  /** FNV-1a over the bytes after the ID, and the transport: the same bytes always get the same answer. */
  private static hash(message: Uint8Array, transport: Transport): number {
    let h = transport === "udp" ? 0x811c9dc5 : 0x050c5d1f;
    for (let i = 2; i < message.length; i++) h = Math.imul(h ^ message[i], 0x01000193);
    return h >>> 0;
  }

  /** The slot holding a live entry for this message, or -1. */
  private find(message: Uint8Array, transport: Transport, hash: number): number {
    const first = (hash & ((1 << SET_BITS) - 1)) << 1;
    for (let slot = first; slot < first + 2; slot++) {
      if (this.slotHash[slot] !== hash) continue;
      const at = this.written(slot);
      if (at >= 0 && this.holds(at, message, transport) && this.current(at)) return slot;
    }
    return -1;
  }

  /** Where in the ring a slot's entry is, or -1 when the slot is empty or the entry overwritten since. */
  private written(slot: number): number {
    const stored = this.slotPos[slot];
    if (stored === 0 || this.writePos - (stored - 1) > this.capacity) return -1;
    return (stored - 1) % this.capacity;
  }

  /** Whether the entry at `at` is the answer to this message (bar its ID) on this transport. */
  private holds(at: number, message: Uint8Array, transport: Transport): boolean {
    const { bytes } = this;
    const queryLength = bytes[at + 4] | (bytes[at + 5] << 8);
    if (queryLength !== message.length - 2 || bytes[at + 8] !== (transport === "udp" ? 0 : 1)) return false;
    let q = at + HEADER_BYTES + 8 * bytes[at + 9];
    for (let i = 2; i < message.length; i++, q++) if (bytes[q] !== message[i]) return false;
    return true;
  }

  /** A copy of the reply cached for this message, carrying its ID, or undefined. */
  get(message: Uint8Array, transport: Transport): Buffer | undefined {
    const hash = AnswerCache.hash(message, transport);
    const slot = this.find(message, transport, hash);
    if (slot < 0) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    const { bytes, words } = this;
    const pos = this.slotPos[slot] - 1;
    const at = pos % this.capacity;
    const dependencies = bytes[at + 9];
    const replyLength = bytes[at + 6] | (bytes[at + 7] << 8);
    const replyAt = at + HEADER_BYTES + 8 * dependencies + message.length - 2;
    const reply = Buffer.allocUnsafe(replyLength);
    reply.set(bytes.subarray(replyAt, replyAt + replyLength));
    reply[0] = message[0];
    reply[1] = message[1];
    if (this.writePos - pos > this.capacity / 2) {
      // in the half of the ring that goes next: keep it, it is asked for
      const deps = this.scratchDeps;
      for (let i = 0; i < 2 * dependencies; i++) deps[i] = words[(at >> 2) + 3 + i];
      this.append(hash, message, transport, reply, deps, dependencies);
    }
    return reply;
  }

  /**
   * Caches `reply` as built from the rows of `dependsOn`. `versionsSeen[d]` is `shared.of(name)`
   * read before that row was looked up; without it the counters are read now, which is right
   * only when no other thread writes.
   */
  set(message: Uint8Array, transport: Transport, reply: Uint8Array, dependsOn: readonly string[], versionsSeen?: readonly number[]): void {
    if (dependsOn.length > MAX_DEPENDENCIES) return;
    const deps = this.scratchDeps;
    for (let d = 0; d < dependsOn.length; d++) {
      const bucket = bucketOf(dependsOn[d]);
      deps[2 * d] = bucket;
      deps[2 * d + 1] = versionsSeen ? versionsSeen[d] : Atomics.load(this.versions, bucket);
    }
    this.append(AnswerCache.hash(message, transport), message, transport, reply, deps, dependsOn.length);
  }

  /** Forgets every answer built from the row of this full name (lower case, trailing dot). */
  invalidate(name: string): void {
    this.shared.invalidate(name);
  }

  private append(hash: number, message: Uint8Array, transport: Transport, reply: Uint8Array, deps: Uint32Array, dependencies: number): void {
    const queryLength = message.length - 2;
    const length = (HEADER_BYTES + 8 * dependencies + queryLength + reply.length + 3) & ~3;
    if (length > this.capacity / 4 || reply.length > 0xffff) return;
    let pos = this.writePos;
    if ((pos % this.capacity) + length > this.capacity) pos += this.capacity - (pos % this.capacity); // no room at the end: wrap
    this.writePos = pos + length;
    const at = pos % this.capacity;
    const { bytes, words } = this;
    words[at >> 2] = hash;
    bytes[at + 4] = queryLength & 0xff;
    bytes[at + 5] = queryLength >> 8;
    bytes[at + 6] = reply.length & 0xff;
    bytes[at + 7] = reply.length >> 8;
    bytes[at + 8] = transport === "udp" ? 0 : 1;
    bytes[at + 9] = dependencies;
    const generation = this.shared.generation();
    bytes[at + 10] = generation & 0xff;
    bytes[at + 11] = generation >> 8;
    for (let i = 0; i < 2 * dependencies; i++) words[(at >> 2) + 3 + i] = deps[i];
    const queryAt = at + HEADER_BYTES + 8 * dependencies;
    bytes.set(message.subarray(2), queryAt);
    bytes.set(reply, queryAt + queryLength);

    // Same message already cached (e.g. rebuilt after an invalidation): replace it. Otherwise an
    // empty or dead slot of the set, else the older of the two.
    const first = (hash & ((1 << SET_BITS) - 1)) << 1;
    let target = -1;
    for (let slot = first; slot < first + 2 && target < 0; slot++) {
      if (this.slotHash[slot] !== hash) continue;
      const at = this.written(slot);
      if (at >= 0 && this.holds(at, message, transport)) target = slot;
    }
    for (let slot = first; slot < first + 2 && target < 0; slot++) {
      if (!this.live(slot)) target = slot;
    }
    if (target < 0) target = this.slotPos[first] <= this.slotPos[first + 1] ? first : first + 1;
    this.slotPos[target] = pos + 1;
    this.slotHash[target] = hash;
  }

  /** Whether the entry at `at` was built under this generation from rows unchanged since. */
  private current(at: number): boolean {
    const { words, bytes } = this;
    if ((bytes[at + 10] | (bytes[at + 11] << 8)) !== this.shared.generation()) return false;
    for (let d = 0; d < this.bytes[at + 9]; d++) {
      const word = (at >> 2) + 3 + 2 * d;
      if (Atomics.load(this.versions, words[word]) !== words[word + 1]) return false;
    }
    return true;
  }

  /** Whether a slot holds an entry neither overwritten nor invalidated since. */
  private live(slot: number): boolean {
    const at = this.written(slot);
    return at >= 0 && this.current(at);
  }
}
