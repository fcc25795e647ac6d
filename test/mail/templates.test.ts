// Email bodies: templates are HTML, values put into them are escaped, the text part is readable.
import { describe, expect, test } from "bun:test";
import { loadSettings } from "../../src/config.ts";
import { confirmationEmail, htmlToText, reclamationEmail } from "../../src/mail/templates.ts";

const settings = loadSettings([], {}).settings.email;

describe("email templates", () => {
  test("values are escaped into the HTML, the template's own markup is kept", () => {
    const mail = confirmationEmail(
      { ...settings, confirmationBody: '<p>Go to <a href="{link}">{link}</a> for <b>{domain}</b></p>' },
      "a@example.org",
      'https://x.test/verifyemail?s=1&t="><script>alert(1)</script>',
      "<img src=x>.example.test",
    );
    expect(mail.html).toContain("<b>&lt;img src=x&gt;.example.test</b>");
    expect(mail.html).toContain('href="https://x.test/verifyemail?s=1&amp;t=&quot;&gt;&lt;script&gt;');
    expect(mail.html).not.toContain("<script>");
    expect(mail.text).toBe('Go to https://x.test/verifyemail?s=1&t="><script>alert(1)</script> for <img src=x>.example.test');
  });

  test("the default bodies carry the link and the token in both parts", () => {
    const confirm = confirmationEmail(settings, "a@example.org", "http://api.example.test:8080/verifyemail?s=abc", "demo.example.test");
    expect(confirm.subject).toBe("Confirm your email address for demo.example.test");
    expect(confirm.html).toContain('<a href="http://api.example.test:8080/verifyemail?s=abc">');
    expect(confirm.text).toContain("http://api.example.test:8080/verifyemail?s=abc");
    expect(confirm.text).not.toContain("<");
    const reclaim = reclamationEmail(settings, "a@example.org", "0f7c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", "demo.example.test");
    expect(reclaim.text).toContain("Your reclamation token:\n\n0f7c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\n");
    expect(reclaim.subject).toBe("Reclaim demo.example.test");
  });

  test("a subject cannot carry a line break into the message headers", () => {
    const mail = reclamationEmail({ ...settings, reclamationSubject: "Reclaim {domain}" }, "a@example.org", "t", "x\r\nBcc: evil@example.org");
    expect(mail.subject).not.toMatch(/[\r\n]/);
  });

  test("htmlToText: breaks, paragraphs and labelled links", () => {
    expect(htmlToText("Hello,<br>\n<br>\nsee <a href='https://a.test'>the page</a>.<p>Bye</p>")).toBe("Hello,\n\nsee the page (https://a.test).\n\nBye");
  });

  test("the default reclamation token is on a line of its own in both parts, monospace in HTML, with no punctuation around it", () => {
    const token = "0f7c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
    const reclaim = reclamationEmail(settings, "a@example.org", token, "demo.example.test");
    expect(reclaim.text.split("\n")).toContain(token);
    expect(reclaim.html).toMatch(new RegExp(`<p><code[^>]*>${token}</code></p>`));
  });

  test("the default verification link is on a line of its own in the text part", () => {
    const link = "http://api.example.test:8080/verifyemail?s=0f7c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
    expect(confirmationEmail(settings, "a@example.org", link, "demo.example.test").text.split("\n")).toContain(link);
  });

  test("an HTML part that is a fragment is sent as a whole document that phones show at a readable size", () => {
    for (const mail of [
      confirmationEmail(settings, "a@example.org", "http://x.test/verifyemail?s=abc", "demo.example.test"),
      reclamationEmail(settings, "a@example.org", "t", "demo.example.test"),
    ]) {
      expect(mail.html).toStartWith("<!doctype html>");
      expect(mail.html).toContain('<html lang="en">');
      expect(mail.html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
      expect(mail.html).toContain("font-size:16px");
      // the document's title is not part of the text
      expect(mail.text).not.toContain(mail.subject);
    }
  });

  test("an operator's Rust-era body keeps its markup in the HTML part and gets a derived text part; a whole document is left as it is", () => {
    const body = 'Hello,\n<br>\nTo confirm your email address, navigate to <a href="{link}">{link}</a>.';
    const mail = confirmationEmail({ ...settings, confirmationBody: body }, "a@example.org", "http://x.test/v?s=1", "d.example.test");
    expect(mail.html).toContain('navigate to <a href="http://x.test/v?s=1">http://x.test/v?s=1</a>.');
    expect(mail.text).toBe("Hello,\nTo confirm your email address, navigate to http://x.test/v?s=1.");
    const whole = "<!DOCTYPE html><html><body><p>{token}</p></body></html>";
    expect(reclamationEmail({ ...settings, reclamationBody: whole }, "a@example.org", "tok", "d").html).toBe(
      "<!DOCTYPE html><html><body><p>tok</p></body></html>",
    );
  });
});
