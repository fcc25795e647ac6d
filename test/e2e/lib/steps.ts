// Named, time-bounded steps: a failure says which step broke and shows the tails of the
// logs of every process involved (our server first).
import { tail } from "./proc.ts";

export type LogSource = () => string;

export class Steps {
  private readonly sources = new Map<string, LogSource>();
  /** step name -> milliseconds, in the order they ran */
  readonly timings: [string, number][] = [];

  constructor(private readonly suite: string) {}

  /** Adds a process whose log tail goes into failure messages. */
  watch(name: string, source: LogSource): void {
    this.sources.set(name, source);
  }

  unwatch(name: string): void {
    this.sources.delete(name);
  }

  async step<T>(name: string, timeoutMs: number, body: () => Promise<T> | T): Promise<T> {
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`step timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const value = await Promise.race([Promise.resolve().then(body), timeout]);
      this.timings.push([name, Math.round(performance.now() - started)]);
      return value;
    } catch (e) {
      throw new Error(this.failure(name, e));
    } finally {
      clearTimeout(timer);
    }
  }

  private failure(name: string, error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    let text = `[${this.suite}] step "${name}" failed: ${message}`;
    for (const [source, read] of this.sources) {
      let log = "";
      try {
        log = read();
      } catch {}
      text += `\n--- ${source} log tail ---\n${tail(log) || "(empty)"}`;
    }
    return text;
  }

  summary(): string {
    return this.timings.map(([name, ms]) => `  ${String(ms).padStart(6)} ms  ${name}`).join("\n");
  }
}

/** Throws a readable mismatch; bun's expect() inside a step would also do, this keeps messages short. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
