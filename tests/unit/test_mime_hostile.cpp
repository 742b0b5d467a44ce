// Hostile mail against the MIME parser: bytes that are not UTF-8 in every
// header field, nesting and part counts meant to exhaust the stack or the
// heap, and inputs shaped to make linear work quadratic.
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <string>

#include "mail/address.hpp"
#include "mail/mime.hpp"
#include "core/text.hpp"

using namespace cased;

namespace {

const std::string kHead = "From: rita@example.org\r\nTo: security@example.com\r\nSubject: s\r\nMessage-ID: <h@example.org>\r\n";

// Every header-derived field (and the whole tree's strings) is valid UTF-8.
void check_utf8(const ParsedMessage& m) {
  std::vector<std::string> fields = {m.message_id, m.from, m.from_name, m.reply_to, m.sender, m.subject,
                                     m.outer_subject, m.auto_submitted, m.precedence, m.list_id, m.autocrypt,
                                     m.cased_mark, m.body};
  for (const auto* list : {&m.in_reply_to, &m.references, &m.to, &m.cc, &m.delivered_to, &m.x_original_to, &m.problems})
    fields.insert(fields.end(), list->begin(), list->end());
  for (const auto& a : m.attachments) {
    fields.push_back(a.filename);
    fields.push_back(a.content_type);
  }
  for (const auto& f : fields) CHECK(is_valid_utf8(f));
}

std::size_t count_parts(const MimePart& p) {
  std::size_t n = 1;
  for (const auto& c : p.children) n += count_parts(c);
  return n;
}

std::size_t depth_of(const MimePart& p) {
  std::size_t d = 0;
  for (const MimePart* q = &p; !q->children.empty(); q = &q->children.back()) ++d;
  return d;
}

double seconds(const std::function<void()>& f) {
  auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool has_problem(const ParsedMessage& m, const std::string& part) {
  for (const auto& p : m.problems)
    if (p.find(part) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("mime hostile: invalid UTF-8 in any header becomes valid UTF-8 or is dropped", "[mime][hostile]") {
  std::string raw =
      "From: \"\xff\xfe\" <\xff@x>\r\nTo: <\xff@x>, ok@example.org\r\nCc: \xc3@x\r\nReply-To: <r\xff@example.org>\r\n"
      "Sender: \xfe@x\r\nDelivered-To: \xff@example.com\r\nX-Original-To: <sec\x80@example.com>\r\n"
      "Subject: \xff subject\r\nMessage-ID: <\xff@x>\r\nIn-Reply-To: <\xfe@x>\r\nReferences: <\xff\xfe@x> <ok@example.org>\r\n"
      "Auto-Submitted: \xff\r\nPrecedence: \xfe\r\nList-Id: \xff\r\nAutocrypt: addr=\xff; keydata=AAAA\r\n"
      "X-Cased-Origin: \xff\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/\xff; name=\"\xfe.txt\"\r\n\r\nx\r\n--b--\r\n";
  ParsedMessage m = parse_message(raw);
  check_utf8(m);
  CHECK(m.message_id.empty());
  CHECK(m.from.empty());
  CHECK(m.to == std::vector<std::string>{"ok@example.org"});
  CHECK(m.references == std::vector<std::string>{"ok@example.org"});
  CHECK(m.in_reply_to.empty());
  CHECK(m.delivered_to.empty());
  CHECK(m.malformed);
}

TEST_CASE("mime hostile: the fallback address parser keeps only valid addresses", "[mime][hostile]") {
  ParsedMessage m = parse_message(kHead + "Reply-To: (c <victim2@example.net\rX:y>\r\nCc: <x\rX-Injected:yes@example.org>\r\n\r\nb\r\n");
  CHECK(m.reply_to.empty());
  CHECK(m.cc.empty());
  CHECK(has_problem(m, "invalid address"));
  ParsedMessage ok = parse_message(kHead + "Reply-To: broken <<reply@example.org>\r\n\r\nb\r\n");
  CHECK(ok.reply_to == "reply@example.org");
  ParsedMessage id = parse_message("Message-ID: <x\rX-Injected:yes@example.org>\r\nReferences: <a\r\nb@x> <c@x>\r\n\r\nb\r\n");
  CHECK(id.message_id.empty());
  for (const auto& r : id.references) CHECK(valid_msg_id(r));
}

TEST_CASE("mime hostile: 3 MB of nested message/rfc822 is bounded before any recursion", "[mime][hostile]") {
  std::string raw = kHead;
  for (int i = 0; i < 110000; ++i) raw += "Content-Type: message/rfc822\r\n\r\n";
  raw += "innermost\r\n";
  ParsedMessage m = parse_message(raw);
  CHECK(m.malformed);
  CHECK(has_problem(m, "too deep"));
  CHECK(depth_of(m.root) <= 33);
  check_utf8(m);
  // The nested parts are views into one copy of the message, not copies.
  const MimePart* inner = &m.root;
  while (!inner->children.empty()) inner = &inner->children.back();
  CHECK(inner->broken);
  CHECK(inner->raw().data() >= m.root.raw().data());
  CHECK(inner->raw().data() + inner->raw().size() <= m.root.raw().data() + m.root.raw().size());
}

TEST_CASE("mime hostile: deep multipart nesting is bounded too", "[mime][hostile]") {
  std::string raw = kHead;
  for (int i = 0; i < 60000; ++i)
    raw += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" + std::to_string(i) + "\r\n";
  raw += "\r\ninnermost\r\n";
  ParsedMessage m = parse_message(raw);
  CHECK(has_problem(m, "too deep"));
  CHECK(depth_of(m.root) <= 33);
  MimePart entity = parse_entity(raw);  // the PGP layer's entry point is bounded the same way
  CHECK(depth_of(entity) <= 33);
}

TEST_CASE("mime hostile: parts beyond the limit are kept as one opaque part, not dropped", "[mime][hostile]") {
  std::string raw = kHead + "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 20000; ++i) raw += "--b\r\n\r\np" + std::to_string(i) + "\r\n";
  raw += "--b--\r\n";
  ParsedMessage m = parse_message(raw);
  CHECK(count_parts(m.root) == 1001);
  REQUIRE(m.root.children.size() == 1000);
  const MimePart& rest = m.root.children.back();
  CHECK(rest.broken);
  CHECK(rest.body.find("p19999") != std::string::npos);
  CHECK(rest.body.rfind("\r\np999\r\n--b\r\n", 0) == 0);
  CHECK(has_problem(m, "too many MIME parts"));
  CHECK(m.body.find("p0\n") != std::string::npos);
  // Ordinary parts stay exact byte spans of the source (what signatures need).
  CHECK(m.root.children[1].raw() == "\r\np1");
}

TEST_CASE("mime hostile: HTML with many script tags and bare ampersands is reduced in linear time", "[mime][hostile]") {
  std::string html = "<html><body><p>start</p>";
  while (html.size() < 680 * 1024) html += "<SCRIPT>var a = 1 && 2;</SCRIPT><style>p{}</style>x &amp; y &&& ";
  html += "<p>end &#x41;&#66;&nosuch</p></body></html>";
  std::string text;
  double t = seconds([&] { text = html_to_text(html); });
  CHECK(text.rfind("start\n\nx & y &&& x & y", 0) == 0);
  CHECK(text.find("var a") == std::string::npos);
  CHECK(text.find("end AB&nosuch") != std::string::npos);
  CHECK(t < 5.0);  // quadratic code took about a minute; linear takes milliseconds

  std::string amps(400 * 1024, '&');
  double t2 = seconds([&] { text = html_to_text(amps); });
  CHECK(text.size() == amps.size() + 1);
  CHECK(t2 < 5.0);
}

TEST_CASE("mime hostile: 40,000 References are de-duplicated in linear time and capped", "[mime][hostile]") {
  std::string refs = "References:";
  for (int i = 0; i < 40000; ++i) refs += " <r" + std::to_string(i) + "@example.org>";
  refs += " <r5@example.org>\r\n";
  ParsedMessage m;
  double t = seconds([&] { m = parse_message(kHead + refs + "\r\nbody\r\n"); });
  REQUIRE(m.references.size() == 64);
  CHECK(m.references.front() == "r0@example.org");
  CHECK(m.references.back() == "r39999@example.org");
  CHECK(m.references[1] == "r39937@example.org");
  CHECK(t < 5.0);
}

TEST_CASE("mime hostile: a References field of megabytes is cut to its head and tail before it is read", "[mime][hostile]") {
  std::string refs = "References:";
  for (int i = 0; i < 100000; ++i) refs += " <ref" + std::to_string(i) + "@example.org>";
  refs += "\r\n";
  REQUIRE(refs.size() > 2'000'000);
  ParsedMessage m = parse_message(kHead + refs + "\r\nbody\r\n");
  REQUIRE(m.references.size() == 64);
  CHECK(m.references.front() == "ref0@example.org");
  CHECK(m.references.back() == "ref99999@example.org");
  CHECK(m.references[1] == "ref99937@example.org");
  CHECK(has_problem(m, "too many referenced Message-IDs; the first and the last kept"));
}

TEST_CASE("mime hostile: a Date with an absurd zone or time is no date, not an overflow", "[mime][hostile]") {
  auto date_of = [](const std::string& d) {
    return parse_message("From: rita@example.org\r\nDate: " + d + "\r\nSubject: s\r\n\r\nbody\r\n").date;
  };
  CHECK_FALSE(date_of("Mon, 1 Jan 2024 00:00:00 -1908874300").has_value());
  CHECK_FALSE(date_of("Mon, 1 Jan 2024 99:00:00 +0000").has_value());
  auto ok = date_of("Mon, 1 Jan 2024 01:30:00 +0130");
  REQUIRE(ok.has_value());
  CHECK(*ok == 1704067200);
}

TEST_CASE("mime hostile: 100,000 Content-Type parameters cost bounded work", "[mime][hostile]") {
  std::string ct = "Content-Type: text/plain; charset=utf-8";
  for (int i = 0; i < 50000; ++i) ct += "; a" + std::to_string(i) + "=x; b" + std::to_string(i) + "*0=y";
  ParsedMessage m;
  double t = seconds([&] { m = parse_message(kHead + ct + "\r\n\r\nbody\r\n"); });
  CHECK(m.body == "body\r\n");
  CHECK(m.root.params.size() <= 256);
  CHECK(t < 5.0);
}

TEST_CASE("mime hostile: a To field of 100,000 addresses keeps the first 1000", "[mime][hostile]") {
  std::string to = "To: security@example.com";
  for (int i = 0; i < 100000; ++i) to += ", a" + std::to_string(i) + "@example.org";
  ParsedMessage m = parse_message("From: rita@example.org\r\n" + to + "\r\nSubject: s\r\n\r\nbody\r\n");
  REQUIRE(m.to.size() == 1000);
  CHECK(m.to.front() == "security@example.com");
  CHECK(m.to.back() == "a998@example.org");
  CHECK(has_problem(m, "too many addresses"));
}
