// maskedPath: the one rule for secrets in request lines, on both of its code paths (raw text
// when nothing is encoded, decode-mask-encode otherwise).
import { describe, expect, test } from "bun:test";
import { maskedPath, maskSecret } from "../src/log.ts";

const TOKEN = "0b6f3c1e-8a5d-4f2b-9c7e-1d2a3b4c5d6e";

describe("maskedPath", () => {
  test("a path without a query is kept, and the host part never shows", () => {
    expect(maskedPath("http://127.0.0.1:8080/connectivity-check")).toBe("/connectivity-check");
    expect(maskedPath("http://127.0.0.1:8080")).toBe("/");
  });

  test("token, reclamationToken and s show their first 4 characters only (raw path)", () => {
    expect(maskedPath(`http://h/ping?token=${TOKEN}`)).toBe("/ping?token=0b6f…");
    expect(maskedPath(`http://h/unsubscribe?reclamationToken=${TOKEN}`)).toBe("/unsubscribe?reclamationToken=0b6f…");
    expect(maskedPath(`http://h/verifyemail?s=${TOKEN}`)).toBe("/verifyemail?s=0b6f…");
    expect(maskedPath("http://h/ping?TOKEN=abcdefgh")).toBe("/ping?TOKEN=abcd…");
  });

  test("dyndns2's password parameter is masked whatever it holds, the username is kept", () => {
    expect(maskedPath(`http://h/nic/update?username=home&password=${TOKEN}&hostname=home.example.test`)).toBe(
      "/nic/update?username=home&password=0b6f…&hostname=home.example.test",
    );
    expect(maskedPath("http://h/nic/update?username=home&password=not-a-uuid")).toBe("/nic/update?username=home&password=not-…");
    expect(maskedPath("http://h/nic/update?Password=p%40ss%20word")).toBe("/nic/update?Password=p%40ss…");
  });

  test("a UUID under any other name is masked; short values and other names are kept", () => {
    expect(maskedPath(`http://h/x?id=${TOKEN}&name=demo`)).toBe("/x?id=0b6f…&name=demo");
    expect(maskedPath("http://h/subscribe?name=demo&mode=1")).toBe("/subscribe?name=demo&mode=1");
  });

  test("percent-encoded secrets are decoded before masking (decoding path)", () => {
    expect(maskedPath(`http://h/ping?%74oken=${TOKEN}`)).toBe("/ping?%74oken=0b6f…");
    expect(maskedPath(`http://h/ping?token=%30b6f${TOKEN.slice(4)}`)).toBe("/ping?token=0b6f…");
    expect(maskedPath(`http://h/x?note=uuid%3A${TOKEN}`)).toBe(`/x?note=${encodeURIComponent("uuid:")}0b6f…`);
  });

  test("a secret with characters that need encoding is masked and re-encoded", () => {
    expect(maskedPath("http://h/ping?token=%3Cscript%3E")).toBe(`/ping?token=${encodeURIComponent("<scr")}…`);
    expect(maskedPath("http://h/ping?token=a+b+c+d+e")).toBe(`/ping?token=${encodeURIComponent("a b ")}…`);
  });

  test("malformed percent-encoding is masked as it stands, never throws", () => {
    expect(maskedPath("http://h/ping?token=%E0%A4%A")).toBe("/ping?token=%25E0%25…"); // "%E0%" shown, re-encoded
  });

  test("maskSecret shows at most the first 4 characters", () => {
    expect(maskSecret(TOKEN)).toBe("0b6f…");
    expect(maskSecret("abcd")).toBe("…");
  });
});
