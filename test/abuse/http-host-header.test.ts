// A request whose Host header is empty (RFC 9112 3.2 allows it) or not a host at all ("a b",
// "x/nic/update"): Bun then hands the app a URL without scheme and host ("/ping?token=..."),
// which `new URL()` refuses. Such a request is served like any other, logged with its own path.
import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { get, useServer } from "../support/server.ts";

const running = useServer();

/** One request written on a socket as given; the whole answer, read until the server closes or a pause. */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    const done = () => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("utf8"));
    };
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      // one answer with its body is all a test asks for
      const answer = Buffer.concat(chunks).toString("utf8");
      const length = /content-length: (\d+)/i.exec(answer);
      const body = answer.indexOf("\r\n\r\n");
      if (length && body >= 0 && Buffer.byteLength(answer.slice(body + 4)) >= Number(length[1])) done();
    });
    socket.on("error", done);
    socket.on("close", done);
  });
}

const request = (path: string, host: string, method = "GET") =>
  rawRequest(running.server.httpPort, `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);

describe("a request with an empty or unusable Host header", () => {
  for (const host of ["", "a b", "x/nic/update?"]) {
    test(`Host: ${JSON.stringify(host)}: /unsubscribe and dyndns2 work, answers keep their form, lines show the path`, async () => {
      const { server } = running;
      const label = `host${Math.random().toString(36).slice(2, 10)}`;
      const token = (await get(server, `/subscribe?name=${label}&mode=1`)).json.token;
      const other = (await get(server, `/subscribe?name=${label}x`)).json.token;

      const update = await request(`/nic/update?username=${label}&password=${token}&myip=192.0.2.44`, host);
      expect(update).toStartWith("HTTP/1.1 200");
      expect(update).toEndWith("\r\n\r\ngood 192.0.2.44\n");
      const refused = await request("/nic/update", host, "POST");
      expect(refused).toStartWith("HTTP/1.1 405");
      expect(refused).toEndWith("\r\n\r\nbadagent\n");

      const unsubscribed = await request(`/unsubscribe?token=${other}`, host);
      expect(unsubscribed).toStartWith("HTTP/1.1 200");
      expect((await get(server, `/info?token=${other}`)).status).toBe(404);
      expect((await get(server, `/info?token=${token}`)).json.last_ipv4).toBe("192.0.2.44");

      await server.waitForOutput(new RegExp(`GET /unsubscribe\\?token=${other.slice(0, 4)}\\.\\.\\. 200 \\S+ client=127\\.0\\.0\\.1 name=${label}x\\.`));
      await server.waitForOutput(new RegExp(`GET /nic/update\\?username=${label}&password=${token.slice(0, 4)}\\.\\.\\.&myip=192\\.0\\.2\\.44 200`));
      await server.waitForOutput(/POST \/nic\/update 405/);
      expect(server.output()).not.toContain("Invalid URL");
    });
  }

  test("a request target that is no URL even against a base (//[x/unsubscribe?token=...) is a 404, not a failure of ours", async () => {
    const { server } = running;
    const token = (await get(server, `/subscribe?name=bracket${Math.random().toString(36).slice(2, 8)}`)).json.token;
    const answer = await request(`//[x/unsubscribe?token=${token}`, "a b");
    expect(answer).toStartWith("HTTP/1.1 404");
    expect(answer).toEndWith('{"error":"NotFound"}');
    expect((await get(server, `/info?token=${token}`)).status).toBe(200);
    expect(server.output()).not.toContain("Invalid URL");
  });
});
