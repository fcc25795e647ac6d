// Debian's chromium, headless, driven over the DevTools protocol with Bun's own WebSocket
// client (no Playwright: its browser downloads cannot be fetched here). One browser per test
// file, one tab per page load; every call is bounded in time.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnDaemon, waitFor, type Daemon } from "./proc.ts";

export const CHROMIUM = process.env.E2E_CHROMIUM || "chromium";
const CALL_TIMEOUT_MS = 15_000;

export interface Viewport {
  width: number;
  height: number;
  deviceScaleFactor: number;
  mobile: boolean;
}

export interface Browser {
  daemon: Daemon;
  /** A fresh tab with this viewport (and scripts off when asked); closed by tab.close(). */
  newTab(viewport: Viewport, options?: { javascript?: boolean; colorScheme?: "light" | "dark" }): Promise<Tab>;
  close(): Promise<void>;
}

export interface Tab {
  /** Navigates and resolves once the page's load event fired; the main document's HTTP status. */
  goto(url: string): Promise<number>;
  send<T = any>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** A PNG of the viewport, or of `clip` (CSS px) drawn at `clip.scale` times the device pixels. */
  screenshot(clip?: { x: number; y: number; width: number; height: number; scale: number }): Promise<Uint8Array>;
  close(): Promise<void>;
}

class Cdp {
  private next = 1;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void; method: string }>();
  private listeners = new Set<(msg: any) => void>();
  constructor(private ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      const msg = JSON.parse(String(event.data));
      if (msg.id !== undefined) {
        const call = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) call?.reject(new Error(`${call.method}: ${msg.error.message}`));
        else call?.resolve(msg.result);
      } else for (const listener of this.listeners) listener(msg);
    });
    ws.addEventListener("close", () => {
      for (const call of this.pending.values()) call.reject(new Error(`${call.method}: the DevTools connection closed`));
      this.pending.clear();
    });
  }
  send<T>(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer within ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      const done = (f: (v: any) => void) => (v: any) => {
        clearTimeout(timer);
        f(v);
      };
      this.pending.set(id, { resolve: done(resolve), reject: done(reject), method });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }
  /** The first event `method` of `sessionId` for which `accept` holds. */
  event(method: string, sessionId: string, accept: (params: any) => boolean = () => true): Promise<any> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`no ${method} within ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      const listener = (msg: any) => {
        if (msg.method !== method || msg.sessionId !== sessionId || !accept(msg.params)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(msg.params);
      };
      this.listeners.add(listener);
    });
  }
  close() {
    this.ws.close();
  }
}

/** Starts headless chromium (as root: no sandbox) on a fresh profile; the DevTools port is its own pick. */
export async function startChromium(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "regsrv-e2e-chromium-"));
  const daemon = spawnDaemon("chromium", [
    CHROMIUM,
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    `--user-data-dir=${profile}`,
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "about:blank",
  ]);
  try {
    // With port 0 chromium writes the port it bound (and the browser's path) into the profile.
    const [port, path] = await waitFor("chromium's DevToolsActivePort", 30_000, () => {
      if (daemon.exited()) throw new Error(`chromium exited:\n${daemon.output()}`);
      try {
        const lines = readFileSync(join(profile, "DevToolsActivePort"), "utf8").trim().split("\n");
        return lines.length === 2 ? lines : undefined;
      } catch {
        return undefined;
      }
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`cannot open the DevTools WebSocket on port ${port}`)), { once: true });
    });
    const cdp = new Cdp(ws);
    return {
      daemon,
      async newTab(viewport, { javascript = true, colorScheme = "light" } = {}) {
        const { targetId } = await cdp.send<{ targetId: string }>("Target.createTarget", { url: "about:blank" });
        const { sessionId } = await cdp.send<{ sessionId: string }>("Target.attachToTarget", { targetId, flatten: true });
        const send = <T>(method: string, params?: Record<string, unknown>) => cdp.send<T>(method, params, sessionId);
        await send("Page.enable");
        await send("Network.enable");
        await send("Emulation.setDeviceMetricsOverride", { ...viewport, screenWidth: viewport.width, screenHeight: viewport.height });
        if (viewport.mobile) await send("Emulation.setTouchEmulationEnabled", { enabled: true, maxTouchPoints: 5 });
        await send("Emulation.setScriptExecutionDisabled", { value: !javascript });
        await send("Emulation.setEmulatedMedia", { features: [{ name: "prefers-color-scheme", value: colorScheme }] });
        return {
          send,
          async goto(url) {
            const response = cdp.event("Network.responseReceived", sessionId, (p) => p.type === "Document");
            const loaded = cdp.event("Page.loadEventFired", sessionId);
            const nav = await send<{ errorText?: string }>("Page.navigate", { url });
            if (nav.errorText) throw new Error(`navigating to ${url}: ${nav.errorText}`);
            const [{ response: r }] = await Promise.all([response, loaded]);
            return r.status as number;
          },
          async screenshot(clip) {
            const { data } = await send<{ data: string }>("Page.captureScreenshot", { format: "png", ...(clip ? { clip } : {}) });
            return Buffer.from(data, "base64");
          },
          async close() {
            await cdp.send("Target.closeTarget", { targetId }).catch(() => {});
          },
        };
      },
      async close() {
        await cdp.send("Browser.close").catch(() => {});
        cdp.close();
        await daemon.stop();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await daemon.stop();
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
}
