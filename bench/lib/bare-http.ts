// The runtime's ceiling for the HTTP benchmark: Bun.serve answering "OK" to everything.
//   bun bench/lib/bare-http.ts PORT
const server = Bun.serve({ hostname: "127.0.0.1", port: Number(process.argv[2]), fetch: () => new Response("OK") });
console.log(`ready: http=http://127.0.0.1:${server.port}`);
