// IP address forms shared by the API (what it stores for a ping) and DNS (what it answers).

/** An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d; this gives a.b.c.d back. */
export function unmapIPv4(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address;
}
