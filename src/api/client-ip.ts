// The address a request came from, as DNS should publish it for a dynamic-DNS gateway.
import { isIP } from "node:net";
import { unmapIPv4 } from "../addresses.ts";

interface IpSource {
  requestIP(request: Request): { address: string } | null;
}

function plain(address: string): string {
  return unmapIPv4(address).toLowerCase();
}

export function clientIp(request: Request, server: IpSource | null, trustProxy: boolean): string {
  if (trustProxy) {
    const real = request.headers.get("x-real-ip")?.trim();
    if (real && isIP(real)) return plain(real);
    const forwarded = request.headers.get("x-forwarded-for")?.split(",").at(-1)?.trim();
    if (forwarded && isIP(forwarded)) return plain(forwarded);
  }
  const address = server?.requestIP(request)?.address;
  return address ? plain(address) : "";
}
