// Who is told the full name of every domain whose DNS-visible data (existence, mode, last IP,
// challenge, token) a write changed, once the write is committed: today the DNS answer cache's
// shared counters; NOTIFY and IXFR are meant to listen here too.
export type GatewayListener = (name: string) => void;

export class ChangeFeed {
  private readonly listeners = new Set<GatewayListener>();

  subscribe(listener: GatewayListener): void {
    this.listeners.add(listener);
  }

  /** `name` is a full name; undefined (a write that matched no row) tells no one. */
  changed(name: string | undefined): void {
    if (name !== undefined) for (const listener of this.listeners) listener(name);
  }
}
