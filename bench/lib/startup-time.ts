// Milliseconds from spawning the server to both listeners answering: HTTP GET
// /connectivity-check is 200 and a UDP SOA query for the zone gets a reply.
//   bun startup-time.ts HTTP_PORT DNS_PORT ZONE -- COMMAND...
export {};
const [httpPort, dnsPort] = process.argv.slice(2, 4).map(Number);
const zone = process.argv[4];
const command = process.argv.slice(process.argv.indexOf("--") + 1);

const query = (() => {
  const labels = zone.split(".");
  const buf = Buffer.alloc(12 + labels.reduce((n, l) => n + l.length + 1, 1) + 4);
  buf.writeUInt16BE(0x4242, 0);
  buf.writeUInt16BE(1, 4);
  let o = 12;
  for (const l of labels) {
    buf[o++] = l.length;
    o += buf.write(l, o, "latin1");
  }
  buf.writeUInt16BE(6, o + 1);
  buf.writeUInt16BE(1, o + 3);
  return buf;
})();

let dnsAt = 0;
const t0 = performance.now();
// until the server binds, the kernel answers "port unreachable": ignored
const socket = await Bun.udpSocket({
  socket: {
    data() {
      dnsAt ||= performance.now();
    },
    error() {},
  },
});
const child = Bun.spawn(command, { stdout: "ignore", stderr: "inherit" });
let httpAt = 0;
const deadline = t0 + 30_000;
while ((!httpAt || !dnsAt) && performance.now() < deadline) {
  if (!dnsAt) socket.send(query, dnsPort, "127.0.0.1");
  if (!httpAt) {
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/connectivity-check`);
      if (res.status === 200) httpAt = performance.now();
    } catch {}
  }
  await Bun.sleep(1);
}
const rssKb = Number(/VmRSS:\s+(\d+)/.exec(await Bun.file(`/proc/${child.pid}/status`).text())?.[1] ?? NaN);
child.kill("SIGTERM");
await child.exited;
socket.close();
console.log(JSON.stringify({ startupMs: Math.max(httpAt, dnsAt) - t0, httpMs: httpAt - t0, dnsMs: dnsAt - t0, rssAfterStartMb: Math.round(rssKb / 1024) }));
