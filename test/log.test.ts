// maskedPath: the one rule for secrets in request lines, on both of its code paths (raw text
// when nothing is encoded, decode-mask-encode otherwise).
import { describe, expect, test } from "bun:test";
import { fstatSync } from "node:fs";
import { errorText, formatLine, maskedPath, maskEmail, maskSecret, oneLine, stdoutIsJournal } from "../src/log.ts";

const TOKEN = "0b6f3c1e-8a5d-4f2b-9c7e-1d2a3b4c5d6e";

describe("maskedPath", () => {
  test("a path without a query is kept, and the host part never shows", () => {
    expect(maskedPath("http://127.0.0.1:8080/connectivity-check")).toBe("/connectivity-check");
    expect(maskedPath("http://127.0.0.1:8080")).toBe("/");
  });

  test("token, reclamationToken and s show their first 4 characters only (raw path)", () => {
    expect(maskedPath(`http://h/ping?token=${TOKEN}`)).toBe("/ping?token=0b6f...");
    expect(maskedPath(`http://h/unsubscribe?reclamationToken=${TOKEN}`)).toBe("/unsubscribe?reclamationToken=0b6f...");
    expect(maskedPath(`http://h/verifyemail?s=${TOKEN}`)).toBe("/verifyemail?s=0b6f...");
    expect(maskedPath("http://h/ping?TOKEN=abcdefgh")).toBe("/ping?TOKEN=abcd...");
  });

  test("dyndns2's password parameter is masked whatever it holds, the username is kept", () => {
    expect(maskedPath(`http://h/nic/update?username=home&password=${TOKEN}&hostname=home.example.test`)).toBe(
      "/nic/update?username=home&password=0b6f...&hostname=home.example.test",
    );
    expect(maskedPath("http://h/nic/update?username=home&password=not-a-uuid")).toBe("/nic/update?username=home&password=not-...");
    expect(maskedPath("http://h/nic/update?Password=p%40ss%20word")).toBe("/nic/update?Password=p%40ss...");
  });

  test("a UUID under any other name is masked; short values and other names are kept", () => {
    expect(maskedPath(`http://h/x?id=${TOKEN}&name=demo`)).toBe("/x?id=0b6f...&name=demo");
    expect(maskedPath("http://h/subscribe?name=demo&mode=1")).toBe("/subscribe?name=demo&mode=1");
  });

  test("a UUID outside a key=value pair is masked too: a mail client's s%3D, a bare query, a path segment", () => {
    expect(maskedPath(`http://h/verifyemail?s%3D${TOKEN}`)).toBe(`/verifyemail?${encodeURIComponent("s=")}0b6f...`);
    expect(maskedPath(`http://h/keep?${TOKEN}&x=1`)).toBe("/keep?0b6f...&x=1");
    expect(maskedPath(`http://h/info/${TOKEN}`)).toBe("/info/0b6f...");
    expect(maskedPath(`http://h/info/${TOKEN}?token=${TOKEN}`)).toBe("/info/0b6f...?token=0b6f...");
    expect(maskedPath("http://h/ping?flag&name=demo")).toBe("/ping?flag&name=demo");
  });

  test("percent-encoded secrets are decoded before masking (decoding path)", () => {
    expect(maskedPath(`http://h/ping?%74oken=${TOKEN}`)).toBe("/ping?%74oken=0b6f...");
    expect(maskedPath(`http://h/ping?token=%30b6f${TOKEN.slice(4)}`)).toBe("/ping?token=0b6f...");
    expect(maskedPath(`http://h/x?note=uuid%3A${TOKEN}`)).toBe(`/x?note=${encodeURIComponent("uuid:")}0b6f...`);
  });

  test("a secret with characters that need encoding is masked and re-encoded", () => {
    expect(maskedPath("http://h/ping?token=%3Cscript%3E")).toBe(`/ping?token=${encodeURIComponent("<scr")}...`);
    expect(maskedPath("http://h/ping?token=a+b+c+d+e")).toBe(`/ping?token=${encodeURIComponent("a b ")}...`);
  });

  test("malformed percent-encoding is masked as it stands, never throws", () => {
    expect(maskedPath("http://h/ping?token=%E0%A4%A")).toBe("/ping?token=%25E0%25..."); // "%E0%" shown, re-encoded
  });

  test("maskSecret shows at most the first 4 characters", () => {
    expect(maskSecret(TOKEN)).toBe("0b6f...");
    expect(maskSecret("abcd")).toBe("...");
  });
});

describe("email addresses", () => {
  test("show the first 2 characters of the mailbox, raw or percent-encoded, in any query", () => {
    expect(maskEmail("alice@example.org")).toBe("al...@...");
    expect(maskEmail("al@example.org")).toBe("...@...");
    expect(maskedPath("http://h/setemail?token=abcdefgh&email=alice@example.org")).toBe("/setemail?token=abcd...&email=al...@...");
    expect(maskedPath("http://h/setemail?email=alice%40example.org&optout=1")).toBe("/setemail?email=al...@...&optout=1");
    expect(maskedPath("http://h/subscribe?name=x&Email=%C3%A9ric%40example.org")).toBe(`/subscribe?name=x&Email=${encodeURIComponent("ér")}...@...`);
  });
});

describe("a line", () => {
  const TEXT = { format: "text", level: "info", journald: false } as const;
  const TIME = "2026-11-27T09:00:00.000Z";

  test("is one line of printable ASCII whatever it is handed: newlines and other characters are escaped", () => {
    expect(oneLine("plain")).toBe("plain");
    expect(oneLine("two\nlines\tand \u00d7 \u2026")).toBe("two\\nlines\\tand \\u00d7 \\u2026");
    expect(formatLine("error: a\n    at f (x.ts:1:2)", undefined, TEXT, TIME)).toBe(`${TIME} error: a\\n    at f (x.ts:1:2)\n`);
  });

  test("in text has the time first, and none under journald (which stamps lines itself)", () => {
    expect(formatLine("stopped", undefined, TEXT, TIME)).toBe(`${TIME} stopped\n`);
    expect(formatLine("stopped", undefined, { ...TEXT, journald: true }, TIME)).toBe("stopped\n");
  });

  test("in json is one object with time, level, msg and the request's fields, ASCII only", () => {
    const line = formatLine(
      "GET /x 200 1.0ms client=192.0.2.1 \u00e9",
      { method: "GET", path: "/x", status: 200, ms: 1, client: "192.0.2.1" },
      { ...TEXT, format: "json" },
      TIME,
    );
    expect(line).toEndWith("}\n");
    expect(line.slice(0, -1)).not.toContain("\n");
    expect(line).toMatch(/^[\x20-\x7e]+\n$/);
    expect(JSON.parse(line)).toEqual({
      time: TIME,
      level: "info",
      msg: "GET /x 200 1.0ms client=192.0.2.1 \u00e9",
      method: "GET",
      path: "/x",
      status: 200,
      ms: 1,
      client: "192.0.2.1",
    });
    expect(JSON.parse(formatLine("error x", { level: "error" }, { ...TEXT, format: "json" }, TIME)).level).toBe("error");
  });

  test("of an error is its message on one line, and no stack at log.level = info", () => {
    const e = new Error("first\n  second");
    expect(errorText(e)).toBe("first second");
    expect(errorText("a string")).toBe("a string");
  });

  test("JOURNAL_STREAM counts only when it names stdout (a redirected child inherits the variable, not the stream)", () => {
    expect(stdoutIsJournal({})).toBe(false);
    expect(stdoutIsJournal({ JOURNAL_STREAM: "1:1" })).toBe(false);
    expect(stdoutIsJournal({ JOURNAL_STREAM: "not a stream" })).toBe(false);
  });

  test("JOURNAL_STREAM naming this process's stdout counts; naming another stream (an inode off) does not", () => {
    const { dev, ino } = fstatSync(1, { bigint: true });
    expect(stdoutIsJournal({ JOURNAL_STREAM: `${dev}:${ino}` })).toBe(true);
    expect(stdoutIsJournal({ JOURNAL_STREAM: `${dev}:${ino + 1n}` })).toBe(false);
  });
});
