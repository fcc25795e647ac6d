// A sweep worker that dies of an uncaught error at its first count, as a bug outside the real
// worker's try would. Used by test/store/sweeper.test.ts.
declare const self: Worker;

self.onmessage = (event: MessageEvent<{ kind: string }>) => {
  const { kind } = event.data;
  if (kind === "open") postMessage({ kind: "opened" });
  else if (kind === "close") postMessage({ kind: "closed" });
  else if (kind === "count")
    setTimeout(() => {
      throw new Error("injected crash\n  at a line of code the error's message quotes");
    }, 0);
  else postMessage({ kind: "failed", message: `unexpected ${kind}` });
};
