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
    expect(reclaim.text).toContain("Your reclamation token is: 0f7c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b");
    expect(reclaim.subject).toBe("Reclaim demo.example.test");
  });

  test("a subject cannot carry a line break into the message headers", () => {
    const mail = reclamationEmail({ ...settings, reclamationSubject: "Reclaim {domain}" }, "a@example.org", "t", "x\r\nBcc: evil@example.org");
    expect(mail.subject).not.toMatch(/[\r\n]/);
  });

  test("htmlToText: breaks, paragraphs and labelled links", () => {
    expect(htmlToText("Hello,<br>\n<br>\nsee <a href='https://a.test'>the page</a>.<p>Bye</p>")).toBe("Hello,\n\nsee the page (https://a.test).\n\nBye");
  });
});
