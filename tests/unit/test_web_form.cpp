// The web form's pure parts: checks, the message made of a report (parsed
// back by our own MIME parser), CSRF tokens, receipts, rate limits, pages.
#include <catch2/catch.hpp>

#include "core/config.hpp"
#include "core/util.hpp"
#include "intake/prepare.hpp"
#include "web/form.hpp"
#include "web/guard.hpp"
#include "web/page.hpp"

using namespace cased;
using namespace cased::web;

namespace {

Report good() {
  Report r;
  r.name = "Rita Reporter";
  r.email = "Rita@Example.org";
  r.product = "widget";
  r.version = "2.1";
  r.title = "Heap overflow in the widget";
  r.description = "Line one\nLine two: zebra42\n";
  return r;
}

MessageContext context() {
  return {"security@example.com", "web.abc@example.com", "ABCDE-FGHJK-MNPQR-STUVW", "", 1790000000,
          "=_cased_web_0123"};
}

}  // namespace

TEST_CASE("web form: checks name the fields that are wrong", "[web]") {
  Limits limits;
  CHECK(check_report(good(), limits).empty());
  Report r = good();
  r.title = "  ";
  r.description = "";
  r.email = "not an address";
  r.name = "two\nlines";
  auto errors = check_report(r, limits);
  CHECK(errors.count("title") == 1);
  CHECK(errors.count("description") == 1);
  CHECK(errors.count("email") == 1);
  CHECK(errors.count("name") == 1);
  r = good();
  r.email = "";  // anonymous is allowed
  r.files.resize(limits.max_files + 1);
  errors = check_report(r, limits);
  CHECK(errors.size() == 1);
  CHECK(errors.count("attachment") == 1);
  r = good();
  r.title = "a\ttab";
  CHECK(check_report(r, limits).count("title") == 1);
  r = good();
  r.description = "\xff\xfe bad";
  CHECK(check_report(r, limits).count("description") == 1);
}

TEST_CASE("web form: the message parses back with every field and file", "[web]") {
  Report r = good();
  r.title = "Überlauf: a title with an ümlaut, long enough to be folded over more than one header line";
  r.files.push_back({"C:\\Users\\rita\\poc.py", "text/html", "print(1)\n"});
  r.files.push_back({"../../etc/passwd", "", std::string("\x00\x01\x02", 3)});
  r.credit = true;
  std::string raw = build_message(r, context());
  CHECK(raw.find("\r\n\r\n") != std::string::npos);
  for (std::size_t i = 0; i < raw.find("\r\n\r\n"); ++i) CHECK((raw[i] != '\n' || raw[i - 1] == '\r'));
  PreparedMessage m = prepare_message(raw, Envelope{MessageSource::web, "rita@example.org", {}, {}}, nullptr);
  CHECK(m.parsed.from == "rita@example.org");
  CHECK(m.parsed.subject == r.title);
  CHECK(m.parsed.message_id == "web.abc@example.com");
  CHECK(m.parsed.body.find("zebra42") != std::string::npos);
  CHECK(m.parsed.body.find("ABCDE-FGHJK-MNPQR-STUVW") != std::string::npos);
  CHECK(m.parsed.body.find("Credit:  yes") != std::string::npos);
  REQUIRE(m.parsed.attachments.size() == 2);
  CHECK(m.parsed.attachments[0].filename == "poc.py");
  CHECK(m.parsed.attachments[0].size == 9);
  CHECK(m.parsed.attachments[1].filename == "passwd");
  CHECK(m.parsed.attachments[1].size == 3);
  CHECK(!m.parsed.malformed);
}

TEST_CASE("web form: anonymous reports come from a robot name", "[web]") {
  Report r = good();
  r.email = "";
  PreparedMessage m = prepare_message(build_message(r, context()), Envelope{MessageSource::web, "", {}, {}}, nullptr);
  CHECK(m.parsed.from == kAnonymousFrom);
}

TEST_CASE("web form: upload names are base names", "[web]") {
  CHECK(upload_name("a/b/c.txt") == "c.txt");
  CHECK(upload_name("..") == "attachment");
  CHECK(upload_name("") == "attachment");
  CHECK(upload_name("x\ny") == "x_y");
  CHECK(upload_name(std::string(300, 'a')).size() == 200);
}

TEST_CASE("web form: CSRF tokens are bound to the cookie and to time", "[web]") {
  CsrfKey key(std::string(32, 'k'));
  std::string nonce = CsrfKey::nonce();
  CHECK(nonce.size() == 32);
  std::int64_t now = 1790000000;
  std::string token = key.token(nonce, now);
  CHECK(key.check(token, nonce, now) == CsrfKey::Check::ok);
  CHECK(key.check(token, nonce, now + CsrfKey::kMaxAge) == CsrfKey::Check::ok);
  CHECK(key.check(token, nonce, now + CsrfKey::kMaxAge + 1) == CsrfKey::Check::expired);
  CHECK(key.check(token, nonce, now - CsrfKey::kSkew - 1) == CsrfKey::Check::expired);
  CHECK(key.check(token, CsrfKey::nonce(), now) == CsrfKey::Check::forged);
  CHECK(key.check("", nonce, now) == CsrfKey::Check::missing);
  CHECK(key.check(token, "", now) == CsrfKey::Check::missing);
  CHECK(key.check("x" + token, nonce, now) == CsrfKey::Check::forged);
  CHECK(key.check(std::to_string(now - 1) + token.substr(token.find('.')), nonce, now) == CsrfKey::Check::forged);
  CHECK(CsrfKey(std::string(32, 'j')).check(token, nonce, now) == CsrfKey::Check::forged);
}

TEST_CASE("web form: receipt codes are unguessable and readable", "[web]") {
  std::string a = receipt_code(), b = receipt_code();
  CHECK(a != b);
  REQUIRE(a.size() == 23);
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (i % 6 == 5) CHECK(a[i] == '-');
    else CHECK(std::string("23456789ABCDEFGHJKMNPQRSTUVWXYZ").find(a[i]) != std::string::npos);
  }
}

TEST_CASE("web form: the rate limit keeps a bounded number of clients", "[web]") {
  RateLimiter rate(10);
  // Refused forms (the slot given back) leave nothing behind, however many addresses send them.
  for (int i = 0; i < 100000; ++i) {
    std::string client = "2001:db8:" + std::to_string(i) + "::/64";
    REQUIRE(rate.take(client, 1000));
    rate.give_back(client);
  }
  CHECK(rate.clients() == 0);
  // Clients holding slots: at most kMaxClients; the next new one waits, the known ones go on.
  for (std::size_t i = 0; i < RateLimiter::kMaxClients; ++i) REQUIRE(rate.take("c" + std::to_string(i), 2000));
  CHECK(!rate.take("one more", 2001));
  CHECK(rate.take("c0", 2001));
  CHECK(rate.clients() == RateLimiter::kMaxClients);
  // An hour later the old windows end and a new client is served again.
  CHECK(rate.take("one more", 2000 + 3600));
  CHECK(rate.clients() == 1);
}

TEST_CASE("web form: a full table of submissions lets new clients through uncounted", "[web]") {
  RateLimiter attempts(2, RateLimiter::WhenFull::admit);
  for (std::size_t i = 0; i < RateLimiter::kMaxClients; ++i) REQUIRE(attempts.take("c" + std::to_string(i), 2000));
  CHECK(attempts.take("a reporter", 2001));  // not locked out by 65536 refused forms
  CHECK(attempts.take("a reporter", 2001));
  CHECK(attempts.take("a reporter", 2001));  // uncounted while the table is full
  CHECK(attempts.clients() == RateLimiter::kMaxClients);
  CHECK(attempts.take("c0", 2001));
  CHECK_FALSE(attempts.take("c0", 2001));  // the known ones are still limited
}

TEST_CASE("web form: the rate limit counts accepted reports per client", "[web]") {
  RateLimiter rate(2);
  CHECK(rate.take("a", 1000));
  CHECK(rate.take("a", 1001));
  CHECK(!rate.take("a", 1002));
  CHECK(rate.take("b", 1002));
  rate.give_back("a");
  CHECK(rate.take("a", 1003));
  CHECK(!rate.take("a", 1004));
  CHECK(rate.take("a", 1000 + 3600));
  CHECK(client_key("192.0.2.1", "198.51.100.1") == "192.0.2.1");  // only a loopback peer is a proxy
  CHECK(client_key("127.0.0.1", "10.0.0.1, 198.51.100.1") == "198.51.100.1");
  CHECK(client_key("127.0.0.1", "") == "127.0.0.1");
  CHECK(client_key("2001:db8:1:2:3:4:5:6", "") == "2001:db8:1:2::/64");
  CHECK(client_key("::1", "2001:db8:1:2::9") == "2001:db8:1:2::/64");
}

TEST_CASE("web form: pages escape what was typed and load nothing foreign", "[web]") {
  Report typed = good();
  typed.description = "<script>alert(1)</script>\"'&";
  FieldErrors errors{{"title", "A title is required."}};
  FormPage page{"security@example.com", "1.abc", 10485760, 10, &typed, &errors, ""};
  std::string html = form_page(page);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;") != std::string::npos);
  CHECK(html.find("10 MiB") != std::string::npos);
  CHECK(html.find("id=\"title-error\"") != std::string::npos);
  CHECK(html.find("http") == std::string::npos);
  std::string receipt = receipt_page("security@example.com", "[CASE#7]", "ABCDE-FGHJK-MNPQR-STUVW");
  CHECK(receipt.find("[CASE#7]") != std::string::npos);
  for (const auto& [name, value] : security_headers())
    if (name == "Content-Security-Policy") CHECK(value.find("default-src 'none'") == 0);
}

TEST_CASE("web form: the [web] section", "[web][config]") {
  const std::string base = "[case]\ndatabase = \"/tmp/x.db\"\nalias = \"security@example.com\"\n";
  auto c = parse_config(base + "[web]\nlisten = [\"127.0.0.1:8080\"]\nmax_upload = 65536\nrate_per_hour = 3\n", "f.toml");
  REQUIRE(c);
  REQUIRE(c->web);
  CHECK(c->web->listen == std::vector<std::string>{"127.0.0.1:8080"});
  CHECK(c->web->max_upload == 65536);
  CHECK(c->web->rate_per_hour == 3);
  CHECK(c->web->tls_cert.empty());
  CHECK(!parse_config(base, "f.toml")->web);
  auto half = parse_config(base + "[web]\nlisten = [\"127.0.0.1:8080\"]\ntls_cert = \"/c.pem\"\n", "f.toml");
  REQUIRE(!half);
  CHECK(half.error().message.find("tls_cert and tls_key") != std::string::npos);
  auto none = parse_config(base + "[web]\npublic_url = \"https://x\"\n", "f.toml");
  REQUIRE(!none);
  CHECK(none.error().message.find("web.listen") != std::string::npos);
  CHECK(!parse_config(base + "[web]\nlisten = [\"127.0.0.1:1\"]\ncolour = 1\n", "f.toml"));
  CHECK(!parse_config(base + "[web]\nlisten = [\"127.0.0.1:1\"]\nrate_per_hour = 0\n", "f.toml"));
}
