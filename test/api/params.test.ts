// hasRepeatedParameter: Elysia keeps only the last value of a repeated key, so the API refuses
// repeated keys; decoded as Elysia decodes them.
import { describe, expect, test } from "bun:test";
import { hasRepeatedParameter } from "../../src/api/params.ts";

describe("hasRepeatedParameter", () => {
  test("no query, one parameter, or distinct keys: not repeated", () => {
    for (const url of ["http://h/ping", "http://h/ping?token=a", "http://h/subscribe?name=a&desc=b&mode=1", "http://h/x?a=1&&b=2"])
      expect(hasRepeatedParameter(url)).toBe(false);
  });

  test("the same key twice, with or without values: repeated", () => {
    for (const url of ["http://h/ping?token=a&token=b", "http://h/x?a&a", "http://h/x?a=1&b=2&a="]) expect(hasRepeatedParameter(url)).toBe(true);
  });

  test("keys are compared decoded: percent-encoding and '+' as a space", () => {
    expect(hasRepeatedParameter("http://h/ping?token=a&%74oken=b")).toBe(true);
    expect(hasRepeatedParameter("http://h/x?a+b=1&a%20b=2")).toBe(true);
  });

  test("a key that cannot be decoded is compared as it stands", () => {
    expect(hasRepeatedParameter("http://h/x?%E0%A4=1&%E0%A4=2")).toBe(true);
    expect(hasRepeatedParameter("http://h/x?%E0%A4=1&x=2")).toBe(false);
  });
});
