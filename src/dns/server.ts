// DNS on UDP and TCP at one port: sockets and framing only; answers come from zone.ts.
import { createSocket, type Socket } from "node:dgram";
import { createServer, type Server } from "node:net";
import { isIP } from "node:net";
import type { DnsSettings } from "../config.ts";
import type { ZoneLookups } from "./zone.ts";

export interface DnsServerOptions {
  host: string;
  port: number;
  zone: DnsSettings;
  lookups: ZoneLookups;
  log: (line: string) => void;
}

export async function startDnsServer(options: DnsServerOptions): Promise<{ close(): Promise<void> }> {
  const udp: Socket = createSocket(isIP(options.host) === 6 ? "udp6" : "udp4");
  const tcp: Server = createServer({ allowHalfOpen: true });
  udp.on("message", () => {});
  tcp.on("connection", (socket) => {
    socket.on("error", () => socket.destroy());
    socket.on("data", () => {});
  });
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(options.port, options.host, () => {
      udp.off("error", reject);
      resolve();
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once("error", reject);
      tcp.listen(options.port, options.host, () => {
        tcp.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    udp.close();
    throw e;
  }
  udp.on("error", (e) => options.log(`dns: udp socket error: ${e.message}`));
  tcp.on("error", (e) => options.log(`dns: tcp server error: ${e.message}`));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        udp.close();
        tcp.close(() => resolve());
      }),
  };
}
