// A sweep worker whose first thread dies of an uncaught error at its count, as a bug outside the
// real worker's try would (a marker file next to the database records it); later threads count
// nothing stale. Used by test/store/sweeper.test.ts.
import { existsSync, writeFileSync } from "node:fs";

declare const self: Worker;

let marker = "";
self.onmessage = (event: MessageEvent<{ kind: string; path?: string }>) => {
  const { kind } = event.data;
  if (kind === "open") {
    marker = `${event.data.path}.crashed`;
    postMessage({ kind: "opened" });
  } else if (kind === "close") postMessage({ kind: "closed" });
  else if (kind === "count" && !existsSync(marker)) {
    writeFileSync(marker, "");
    setTimeout(() => {
      throw new Error("injected crash\n  at a line of code the error's message quotes");
    }, 0);
  } else if (kind === "count") postMessage({ kind: "counted", census: { total: 1, stale: 0, first: null, last: null } });
  else postMessage({ kind: "failed", message: `unexpected ${kind}` });
};
