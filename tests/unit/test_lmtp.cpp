// LMTP session: a table of dialogues, each fed whole, byte by byte and in
// random chunks (the result must not depend on how reads split the input),
// focused cases for delivery, closing and memory, and a fuzz loop.
#include <catch2/catch.hpp>

#include "mail/lmtp.hpp"

#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using cased::LmtpDelivery;
using cased::LmtpLimits;
using cased::LmtpOutcome;
using cased::LmtpSession;
using namespace std::string_view_literals;

namespace {

constexpr std::string_view kHost = "lmtp.example.com";
constexpr std::string_view kAlias = "security@example.com";

bool accept_alias(std::string_view addr) { return addr == kAlias || addr.starts_with("security+"); }

std::string joined(std::initializer_list<std::string_view> lines, std::string_view end) {
  std::string out;
  for (std::string_view l : lines) {
    out += l;
    out += end;
  }
  return out;
}
std::string crlf(std::initializer_list<std::string_view> lines) { return joined(lines, "\r\n"); }
std::string lf(std::initializer_list<std::string_view> lines) { return joined(lines, "\n"); }

std::string lhlo_reply(std::size_t max_size = LmtpLimits{}.max_message_size) {
  return crlf({"250-lmtp.example.com", "250-PIPELINING", "250-ENHANCEDSTATUSCODES", "250-8BITMIME",
               "250 SIZE " + std::to_string(max_size)});
}

LmtpLimits limits_with(std::size_t max_message_size, std::size_t max_line, std::size_t max_recipients) {
  LmtpLimits l;
  l.max_message_size = max_message_size;
  l.max_line = max_line;
  l.max_recipients = max_recipients;
  return l;
}

// What the store answers for a delivery.
using Store = std::function<std::vector<LmtpOutcome>(const LmtpDelivery&)>;
std::vector<LmtpOutcome> store_ok(const LmtpDelivery&) { return {LmtpOutcome{}}; }

struct Transcript {
  std::string output;
  std::vector<LmtpDelivery> deliveries;
  bool closed = false;
};

// Control bytes shown as escapes, so a failing comparison is readable.
std::string visible(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n\n";
    } else if (u < 0x20 || u >= 0x7f) {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

std::string render(const Transcript& t) {
  std::string out = visible(t.output);
  for (const LmtpDelivery& d : t.deliveries) {
    out += "--- delivery from <" + d.mail_from + "> to";
    for (const std::string& r : d.recipients) out += " <" + r + ">";
    out += "\n" + visible(d.data) + "\n";
  }
  out += t.closed ? "--- closed\n" : "--- open\n";
  return out;
}

enum class Split { whole, bytes, random };

std::vector<std::size_t> pieces(std::size_t total, Split split, std::mt19937& rng) {
  if (split == Split::whole) return {total};
  std::vector<std::size_t> out;
  std::uniform_int_distribution<std::size_t> size(1, 23);
  for (std::size_t at = 0; at < total;) {
    std::size_t n = split == Split::bytes ? 1 : std::min(size(rng), total - at);
    out.push_back(n);
    at += n;
  }
  return out;
}

// Drives a session as the daemon does: feeds the pieces in order, stores
// every delivery as soon as it is ready, and calls `check` after each feed.
Transcript run(std::string_view input, const std::vector<std::size_t>& sizes, const LmtpLimits& limits,
               const Store& store, const std::function<void(const LmtpSession&)>& check = {}) {
  LmtpSession s(std::string(kHost), limits, accept_alias);
  Transcript t;
  std::size_t at = 0;
  for (std::size_t n : sizes) {
    s.feed(input.substr(at, n));
    at += n;
    while (s.awaiting_delivery()) {
      std::optional<LmtpDelivery> d = s.take_delivery();
      REQUIRE(d);
      REQUIRE_FALSE(s.take_delivery());
      t.deliveries.push_back(*d);
      s.complete_delivery(store(*d));
    }
    if (check) check(s);
  }
  t.output = s.take_output();
  t.closed = s.closed();
  if (t.closed) {
    s.feed("NOOP\r\n");
    CHECK(s.take_output().empty());
  }
  return t;
}

Transcript run(std::string_view input, Split split, const LmtpLimits& limits = {}, const Store& store = store_ok,
               unsigned seed = 1) {
  std::mt19937 rng(seed);
  return run(input, pieces(input.size(), split, rng), limits, store);
}

struct Scenario {
  std::string name;
  std::string input;
  Transcript expected;
  LmtpLimits limits{};
  Store store = store_ok;
};

const std::string k354 = "354 End data with <CR><LF>.<CR><LF>";
const std::string k221 = "221 2.0.0 lmtp.example.com closing connection";

std::vector<Scenario> scenarios() {
  std::vector<Scenario> all;

  all.push_back({"full transaction pipelined in one write",
                 crlf({"LHLO mta.example.net", "MAIL FROM:<reporter@example.org>", "RCPT TO:<security@example.com>",
                       "DATA", "Subject: hello", "", "body line", ".", "QUIT"}),
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354, "250 2.0.0 OK", k221}),
                  {{"reporter@example.org", {"security@example.com"}, "Subject: hello\r\n\r\nbody line\r\n"}},
                  true}});

  all.push_back({"two transactions in one write",
                 crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "DATA", "one", ".",
                       "MAIL FROM:<b@example.org>", "RCPT TO:<security+42@example.com>", "DATA", "two", "."}),
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354, "250 2.0.0 OK",
                                       "250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354, "250 2.0.0 OK"}),
                  {{"a@example.org", {"security@example.com"}, "one\r\n"},
                   {"b@example.org", {"security+42@example.com"}, "two\r\n"}}}});

  all.push_back({"recipients with different outcomes; a rejected one gets none",
                 crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>",
                       "RCPT TO:<security+42@example.com>", "RCPT TO:<nobody@example.com>",
                       "RCPT TO:<security+7@example.com>", "DATA", "x", "."}),
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", "250 2.1.5 Recipient OK",
                                       "550 5.1.1 No such recipient here", "250 2.1.5 Recipient OK", k354,
                                       "250 2.0.0 OK", "451 4.3.0 Try again later", "552 5.2.2 Mailbox full"}),
                  {{"a@example.org",
                    {"security@example.com", "security+42@example.com", "security+7@example.com"},
                    "x\r\n"}}},
                 {},
                 [](const LmtpDelivery&) {
                   return std::vector<LmtpOutcome>{
                       {250, "2.0.0", "OK"}, {451, "4.3.0", "Try again later"}, {552, "5.2.2", "Mailbox full"}};
                 }});

  all.push_back({"a single outcome answers every recipient",
                 crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>",
                       "RCPT TO:<security+1@example.com>", "DATA", "x", "."}),
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", "250 2.1.5 Recipient OK", k354,
                                       "451 4.3.0 Database busy", "451 4.3.0 Database busy"}),
                  {{"a@example.org", {"security@example.com", "security+1@example.com"}, "x\r\n"}}},
                 {},
                 [](const LmtpDelivery&) { return std::vector<LmtpOutcome>{{451, "4.3.0", "Database busy"}}; }});

  all.push_back({"dot-unstuffing",
                 crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "DATA",
                       "..leading dot", "...two dots", "..", "a.b", ". space", "x.", "."}),
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354, "250 2.0.0 OK"}),
                  {{"a@example.org", {"security@example.com"}, ".leading dot\r\n..two dots\r\n.\r\na.b\r\n space\r\nx.\r\n"}}}});

  all.push_back({"a dot, CR and more is a stuffed line, not the end",
                 crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "DATA", ".\rx", "",
                       ".\r", "."}),
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354, "250 2.0.0 OK"}),
                  {{"a@example.org", {"security@example.com"}, "\rx\r\n\r\n\r\r\n"}}}});

  all.push_back({"bare LF line ends: commands tolerated, data kept as received",
                 lf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "DATA", "line one",
                     "..line two", ".", "QUIT"}),
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354, "250 2.0.0 OK", k221}),
                  {{"a@example.org", {"security@example.com"}, "line one\n.line two\n"}},
                  true}});

  all.push_back({"mixed line ends and a bare CR inside a line are kept",
                 crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "DATA"}) +
                     "a\r\nb\nc\rd\r\n.\r\n",
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354, "250 2.0.0 OK"}),
                  {{"a@example.org", {"security@example.com"}, "a\r\nb\nc\rd\r\n"}}}});

  all.push_back({"empty message",
                 crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "DATA", "."}),
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354, "250 2.0.0 OK"}),
                  {{"a@example.org", {"security@example.com"}, ""}}}});

  all.push_back({"DATA without RCPT: no 354, so the message lines are commands",
                 crlf({"LHLO x", "MAIL FROM:<a@example.org>", "DATA", "Subject: hi", "", "hello", ".", "QUIT"}),
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "503 5.5.1 No valid recipients",
                                       "500 5.5.2 Command unrecognized", "500 5.5.2 Command unrecognized",
                                       "500 5.5.2 Command unrecognized", "500 5.5.2 Command unrecognized", k221}),
                  {},
                  true}});

  all.push_back({"pipelined: RCPT rejected, DATA refused, message lines read as commands, then a good transaction",
                 crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<nobody@example.com>", "DATA", "Subject: x",
                       "body", ".", "RSET", "MAIL FROM:<b@example.org>", "RCPT TO:<security@example.com>", "DATA", "ok",
                       "."}),
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "550 5.1.1 No such recipient here",
                                       "503 5.5.1 No valid recipients", "500 5.5.2 Command unrecognized",
                                       "500 5.5.2 Command unrecognized", "500 5.5.2 Command unrecognized",
                                       "250 2.0.0 OK", "250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354,
                                       "250 2.0.0 OK"}),
                  {{"b@example.org", {"security@example.com"}, "ok\r\n"}}}});

  all.push_back({"sequence errors",
                 crlf({"DATA", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "LHLO x", "DATA",
                       "RCPT TO:<security@example.com>", "MAIL FROM:<a@example.org>", "MAIL FROM:<b@example.org>"}),
                 {crlf({"503 5.5.1 Send LHLO first", "503 5.5.1 Send LHLO first", "503 5.5.1 Need MAIL command"}) +
                      lhlo_reply() +
                      crlf({"503 5.5.1 Need MAIL command", "503 5.5.1 Need MAIL command", "250 2.1.0 Sender OK",
                            "503 5.5.1 Nested MAIL command"}),
                  {}}});

  all.push_back({"RSET before LHLO does not stand in for it",
                 crlf({"RSET", "MAIL FROM:<a@example.org>"}),
                 {crlf({"250 2.0.0 OK", "503 5.5.1 Send LHLO first"}), {}}});

  all.push_back({"a repeated LHLO drops the transaction",
                 crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "LHLO y", "DATA"}),
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK"}) + lhlo_reply() +
                      crlf({"503 5.5.1 Need MAIL command"}),
                  {}}});

  all.push_back({"HELO and EHLO are refused, LHLO needs a name",
                 crlf({"HELO x", "EHLO x", "LHLO", "LHLO x"}),
                 {crlf({"500 5.5.1 This is LMTP, use LHLO", "500 5.5.1 This is LMTP, use LHLO",
                        "501 5.5.4 Syntax: LHLO hostname"}) +
                      lhlo_reply(),
                  {}}});

  all.push_back({"commands are case-insensitive",
                 crlf({"lhlo x", "mail from:<a@example.org> body=8bitmime", "rCpT tO:<security@example.com>", "data", "hi",
                       ".", "quit"}),
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354, "250 2.0.0 OK", k221}),
                  {{"a@example.org", {"security@example.com"}, "hi\r\n"}},
                  true}});

  all.push_back({"MAIL syntax, parameters and SIZE over the limit",
                 crlf({"LHLO x", "MAIL FROM:a@example.org", "MAIL TO:<a@example.org>", "MAIL FROM:<a@example.org> X=1",
                       "MAIL FROM:<a@example.org> SIZE=12k", "MAIL FROM:<a@example.org> SIZE=1 SIZE=2",
                       "MAIL FROM:<a@example.org> BODY=BINARYMIME", "MAIL FROM:<a@example.org>junk",
                       "MAIL FROM:<a b@example.org>", "MAIL FROM:<a@example.org", "MAIL FROM:<a@example.org> SIZE=1001",
                       "MAIL FROM:<a@example.org> SIZE=99999999999999999999999", "RCPT TO:<security@example.com>",
                       "MAIL FROM:<> size=1000 body=7BIT", "RCPT TO:<security@example.com>", "DATA", "x", "."}),
                 {lhlo_reply(1000) +
                      crlf({"501 5.5.4 Syntax: MAIL FROM:<address> [SIZE=n] [BODY=7BIT|8BITMIME]",
                            "501 5.5.4 Syntax: MAIL FROM:<address> [SIZE=n] [BODY=7BIT|8BITMIME]",
                            "555 5.5.4 Unsupported MAIL parameter", "501 5.5.4 Bad SIZE parameter",
                            "501 5.5.4 Duplicate SIZE parameter", "501 5.5.4 Bad BODY parameter",
                            "501 5.5.4 Syntax: MAIL FROM:<address> [SIZE=n] [BODY=7BIT|8BITMIME]",
                            "501 5.5.4 Syntax: MAIL FROM:<address> [SIZE=n] [BODY=7BIT|8BITMIME]",
                            "501 5.5.4 Syntax: MAIL FROM:<address> [SIZE=n] [BODY=7BIT|8BITMIME]",
                            "552 5.3.4 Message size exceeds fixed maximum message size",
                            "552 5.3.4 Message size exceeds fixed maximum message size", "503 5.5.1 Need MAIL command",
                            "250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354, "250 2.0.0 OK"}),
                  {{"", {"security@example.com"}, "x\r\n"}}},
                 limits_with(1000, 512, 100)});

  all.push_back({"path forms: space after colon, source route, quoted local part, RCPT errors",
                 crlf({"LHLO x", "MAIL FROM: <@relay.example:user@example.org>", "RCPT TO:<\"a b\"@example.com>",
                       "RCPT TO:<>", "RCPT TO:<security@example.com> NOTIFY=NEVER", "RCPT TO:security@example.com",
                       "RCPT TO: <security@example.com>  ", "DATA ", "."}),
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "550 5.1.1 No such recipient here",
                                       "501 5.1.3 Bad recipient address syntax", "555 5.5.4 Unsupported RCPT parameter",
                                       "501 5.5.4 Syntax: RCPT TO:<address>", "250 2.1.5 Recipient OK", k354,
                                       "250 2.0.0 OK"}),
                  {{"user@example.org", {"security@example.com"}, ""}}}});

  all.push_back({"too many recipients",
                 crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>",
                       "RCPT TO:<security+1@example.com>", "RCPT TO:<security+2@example.com>", "DATA", "m", "."}),
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", "250 2.1.5 Recipient OK",
                                       "452 4.5.3 Too many recipients", k354, "250 2.0.0 OK", "250 2.0.0 OK"}),
                  {{"a@example.org", {"security@example.com", "security+1@example.com"}, "m\r\n"}}},
                 limits_with(LmtpLimits{}.max_message_size, 512, 2)});

  all.push_back({"RSET mid-transaction",
                 crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "RSET", "DATA",
                       "MAIL FROM:<b@example.org>", "RCPT TO:<security@example.com>", "DATA", "m", "."}),
                 {lhlo_reply() + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", "250 2.0.0 OK",
                                       "503 5.5.1 Need MAIL command", "250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354,
                                       "250 2.0.0 OK"}),
                  {{"b@example.org", {"security@example.com"}, "m\r\n"}}}});

  all.push_back({"NOOP, VRFY, HELP and unknown commands",
                 crlf({"NOOP", "NOOP whatever", "VRFY someone", "VRFY", "HELP", "HELP DATA", "BDAT 10 LAST", "EXPN list",
                       "", "RSET now", "RSET  "}),
                 {crlf({"250 2.0.0 OK", "250 2.0.0 OK",
                        "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery",
                        "501 5.5.4 Syntax: VRFY address", "214 2.0.0 Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP",
                        "214 2.0.0 Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP",
                        "500 5.5.2 Command unrecognized", "500 5.5.2 Command unrecognized",
                        "500 5.5.2 Command unrecognized", "501 5.5.4 Syntax: RSET", "250 2.0.0 OK"}),
                  {}}});

  // 64 octets with CRLF is the longest command line allowed below.
  const std::string fits = "NOOP " + std::string(57, 'y');
  const std::string one_over = "NOOP " + std::string(58, 'y');
  all.push_back({"over-long command lines get 500, then a normal transaction works",
                 crlf({"NOOP " + std::string(200, 'x'), fits, one_over, "LHLO x", "MAIL FROM:<a@example.org>",
                       "RCPT TO:<security@example.com>", "DATA", std::string(300, 'z'), "."}) +
                     lf({"NOOP " + std::string(59, 'y'), "NOOP " + std::string(58, 'y')}),
                 {crlf({"500 5.5.2 Line too long", "250 2.0.0 OK", "500 5.5.2 Line too long"}) + lhlo_reply() +
                      crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354, "250 2.0.0 OK",
                            "500 5.5.2 Line too long", "250 2.0.0 OK"}),
                  {{"a@example.org", {"security@example.com"}, std::string(300, 'z') + "\r\n"}}},
                 limits_with(LmtpLimits{}.max_message_size, 64, 100)});

  all.push_back({"binary garbage in commands",
                 crlf({"\0\xff\x01garbage"sv, "MAIL\0FROM:<a@example.org>"sv, "NOOP \x80"sv, "NO\rOP"sv, "\x1b[2J"sv,
                       "LHLO x", "NOOP"}),
                 {crlf({"500 5.5.2 Invalid character in command", "500 5.5.2 Invalid character in command",
                        "500 5.5.2 Invalid character in command", "500 5.5.2 Invalid character in command",
                        "500 5.5.2 Invalid character in command"}) +
                      lhlo_reply() + crlf({"250 2.0.0 OK"}),
                  {}}});

  const std::string line60 = std::string(58, 'o');
  all.push_back({"oversize message: 552 per recipient, nothing delivered, session goes on",
                 crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>",
                       "RCPT TO:<security+1@example.com>", "DATA", line60, line60, line60, ".",
                       "MAIL FROM:<b@example.org>", "RCPT TO:<security@example.com>", "DATA", "small", "."}),
                 {lhlo_reply(100) + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", "250 2.1.5 Recipient OK",
                                          k354, "552 5.3.4 Message size exceeds fixed maximum message size",
                                          "552 5.3.4 Message size exceeds fixed maximum message size",
                                          "250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354, "250 2.0.0 OK"}),
                  {{"b@example.org", {"security@example.com"}, "small\r\n"}}},
                 limits_with(100, 512, 100)});

  all.push_back({"a message of exactly max_message_size (after unstuffing) fits, one more octet does not",
                 crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "DATA", "..2345678", ".",
                       "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "DATA", "123456789", "."}),
                 {lhlo_reply(10) + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354, "250 2.0.0 OK",
                                         "250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354,
                                         "552 5.3.4 Message size exceeds fixed maximum message size"}),
                  {{"a@example.org", {"security@example.com"}, ".2345678\r\n"}}},
                 limits_with(10, 512, 100)});

  all.push_back({"QUIT ends the session and later input is ignored",
                 crlf({"QUIT", "NOOP", "LHLO x"}),
                 {crlf({k221}), {}, true}});

  std::string twenty_bogus;
  for (int i = 0; i < 20; ++i) twenty_bogus += "BOGUS\r\n";
  std::string nineteen_bogus = twenty_bogus.substr(7);
  std::string twenty_500;
  for (int i = 0; i < 20; ++i) twenty_500 += "500 5.5.2 Command unrecognized\r\n";
  std::string nineteen_500 = twenty_500.substr(32);
  all.push_back({"too many consecutive errors close the session",
                 twenty_bogus + crlf({"NOOP"}),
                 {twenty_500 + crlf({"421 4.7.0 Too many errors, closing connection"}), {}, true}});
  all.push_back({"a good command resets the error count",
                 nineteen_bogus + crlf({"NOOP"}) + nineteen_bogus + crlf({"QUIT"}),
                 {nineteen_500 + crlf({"250 2.0.0 OK"}) + nineteen_500 + crlf({k221}), {}, true}});

  return all;
}

std::vector<Scenario> const& all_scenarios() {
  static const std::vector<Scenario> all = scenarios();
  return all;
}

}  // namespace

TEST_CASE("lmtp: greeting", "[lmtp]") {
  LmtpSession s("mx.example.com", {}, accept_alias);
  CHECK(s.greeting() == "220 mx.example.com LMTP cased ready\r\n");
  CHECK(s.take_output().empty());
  CHECK_FALSE(s.closed());
  CHECK_FALSE(s.in_data());
  CHECK_FALSE(s.awaiting_delivery());
}

TEST_CASE("lmtp: scenarios give the same transcript whole, byte by byte and in random chunks", "[lmtp]") {
  for (const Scenario& sc : all_scenarios()) {
    INFO("scenario: " << sc.name);
    const std::string expected = render(sc.expected);
    CHECK(render(run(sc.input, Split::whole, sc.limits, sc.store)) == expected);
    CHECK(render(run(sc.input, Split::bytes, sc.limits, sc.store)) == expected);
    for (unsigned seed = 1; seed <= 8; ++seed) {
      INFO("random chunks, seed " << seed);
      CHECK(render(run(sc.input, Split::random, sc.limits, sc.store, seed)) == expected);
    }
  }
}

TEST_CASE("lmtp: input after a complete message waits for complete_delivery", "[lmtp]") {
  LmtpSession s(std::string(kHost), {}, accept_alias);
  s.feed(crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "DATA", "one", ".",
               "MAIL FROM:<b@example.org>", "RCPT TO:<security@example.com>", "DATA", "two", ".", "NOOP"}));
  CHECK(s.take_output() == lhlo_reply() + crlf({"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354}));
  REQUIRE(s.awaiting_delivery());
  CHECK_FALSE(s.in_data());

  // More input while paused is only buffered.
  s.feed("NOOP\r\n");
  CHECK(s.take_output().empty());

  std::optional<LmtpDelivery> first = s.take_delivery();
  REQUIRE(first);
  CHECK(first->data == "one\r\n");
  CHECK_FALSE(s.take_delivery());
  CHECK(s.awaiting_delivery());

  s.complete_delivery({LmtpOutcome{}});
  CHECK(s.take_output() == crlf({"250 2.0.0 OK", "250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", k354}));
  REQUIRE(s.awaiting_delivery());
  std::optional<LmtpDelivery> second = s.take_delivery();
  REQUIRE(second);
  CHECK(second->mail_from == "b@example.org");
  CHECK(second->data == "two\r\n");

  s.complete_delivery({LmtpOutcome{}});
  CHECK(s.take_output() == crlf({"250 2.0.0 OK", "250 2.0.0 OK", "250 2.0.0 OK"}));
  CHECK_FALSE(s.awaiting_delivery());
  CHECK(s.buffered_bytes() == 0);
}

TEST_CASE("lmtp: in_data only between 354 and the final dot", "[lmtp]") {
  LmtpSession s(std::string(kHost), {}, accept_alias);
  s.feed(crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>"}));
  CHECK_FALSE(s.in_data());
  s.feed("DATA\r\npartial");
  CHECK(s.in_data());
  s.feed(" line\r\n");
  CHECK(s.in_data());
  s.feed(".\r\n");
  CHECK_FALSE(s.in_data());
  CHECK(s.awaiting_delivery());
}

TEST_CASE("lmtp: a missing or malformed outcome is never a 250", "[lmtp]") {
  const std::string txn = crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>",
                                "RCPT TO:<security+1@example.com>", "DATA", "m", "."});
  auto deliver = [&](const std::vector<LmtpOutcome>& outcomes) {
    LmtpSession s(std::string(kHost), {}, accept_alias);
    s.feed(txn);
    s.take_output();
    REQUIRE(s.awaiting_delivery());
    s.complete_delivery(outcomes);
    return s.take_output();
  };
  const std::string two_451 = crlf({"451 4.3.0 internal error, please try again later",
                                    "451 4.3.0 internal error, please try again later"});
  CHECK(deliver({}) == two_451);
  CHECK(deliver({LmtpOutcome{}, LmtpOutcome{}, LmtpOutcome{}}) == two_451);
  CHECK(deliver({{99, "2.0.0", "OK"}}) == two_451);
  CHECK(deliver({{250, "2.0.0", "OK"}, {600, "2.0.0", "OK"}}) ==
        crlf({"250 2.0.0 OK", "451 4.3.0 internal error, please try again later"}));
}

TEST_CASE("lmtp: reply texts cannot inject extra reply lines", "[lmtp]") {
  LmtpSession s(std::string(kHost), {}, accept_alias);
  s.feed(crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "DATA", "m", "."}));
  s.take_output();
  s.complete_delivery({{250, "2.0.0", "OK\r\n250 forged"}});
  CHECK(s.take_output() == "250 2.0.0 OK  250 forged\r\n");
  s.shutdown("going\ndown");
  CHECK(s.take_output() == "421 4.3.2 going down\r\n");
}

TEST_CASE("lmtp: complete_delivery without a message waiting does nothing", "[lmtp]") {
  LmtpSession s(std::string(kHost), {}, accept_alias);
  s.feed("LHLO x\r\n");
  s.take_output();
  s.complete_delivery({LmtpOutcome{}});
  CHECK(s.take_output().empty());
  CHECK_FALSE(s.take_delivery());
}

TEST_CASE("lmtp: shutdown and timeout", "[lmtp]") {
  LmtpSession s(std::string(kHost), {}, accept_alias);

  SECTION("mid-transaction") {
    s.feed(crlf({"LHLO x", "MAIL FROM:<a@example.org>"}));
    s.take_output();
    s.shutdown("server shutting down");
    CHECK(s.take_output() == "421 4.3.2 server shutting down\r\n");
  }
  SECTION("inside DATA") {
    s.feed(crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "DATA", "half a mess"}));
    s.take_output();
    REQUIRE(s.in_data());
    s.shutdown("server shutting down");
    CHECK(s.take_output() == "421 4.3.2 server shutting down\r\n");
    CHECK_FALSE(s.in_data());
  }
  SECTION("while a message awaits storing: it is dropped, the client will retry") {
    s.feed(crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "DATA", "m", ".", "NOOP"}));
    s.take_output();
    REQUIRE(s.awaiting_delivery());
    s.shutdown("server shutting down");
    CHECK(s.take_output() == "421 4.3.2 server shutting down\r\n");
    CHECK_FALSE(s.awaiting_delivery());
    CHECK_FALSE(s.take_delivery());
    s.complete_delivery({LmtpOutcome{}});
    CHECK(s.take_output().empty());
  }
  SECTION("idle timeout") {
    s.feed("LHLO x\r\nNOOP");
    s.take_output();
    s.timeout();
    CHECK(s.take_output() == "421 4.4.2 idle timeout\r\n");
  }

  CHECK(s.closed());
  CHECK(s.buffered_bytes() == 0);
  s.feed("NOOP\r\n");
  s.shutdown("again");
  s.timeout();
  CHECK(s.take_output().empty());
}

TEST_CASE("lmtp: an oversize message is never held in memory", "[lmtp]") {
  const LmtpLimits limits = limits_with(1000, 512, 100);
  LmtpSession s(std::string(kHost), limits, accept_alias);
  s.feed(crlf({"LHLO x", "MAIL FROM:<a@example.org>", "RCPT TO:<security@example.com>", "DATA"}));
  s.take_output();

  // 1 MiB, either as 100-octet lines or as one line without any break.
  const bool with_lines = GENERATE(true, false);
  std::string chunk(4096, 'x');
  if (with_lines)
    for (std::size_t i = 99; i < chunk.size(); i += 100) chunk[i] = '\n';
  std::size_t sent = 0;
  for (int i = 0; i < 256; ++i) {
    s.feed(chunk);
    sent += chunk.size();
    // Once past the limit nothing of the message is kept, at most the start
    // of a line that could still be the terminator.
    CHECK(s.buffered_bytes() <= (sent > limits.max_message_size ? 2 : limits.max_message_size));
  }
  CHECK(s.in_data());
  s.feed("\r\n.\r\n");
  CHECK(s.take_output() == "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  CHECK_FALSE(s.awaiting_delivery());
  CHECK_FALSE(s.take_delivery());
  CHECK(s.buffered_bytes() == 0);

  s.feed("NOOP\r\n");
  CHECK(s.take_output() == "250 2.0.0 OK\r\n");
}

TEST_CASE("lmtp: an over-long command line is never buffered whole", "[lmtp]") {
  const LmtpLimits limits = limits_with(1000, 512, 100);
  LmtpSession s(std::string(kHost), limits, accept_alias);
  const std::string chunk(4096, 'A');
  for (int i = 0; i < 256; ++i) {
    s.feed(chunk);
    CHECK(s.buffered_bytes() < limits.max_line);
  }
  s.feed("\r\nNOOP\r\n");
  CHECK(s.take_output() == "500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n");
  CHECK_FALSE(s.closed());
}

namespace {

// Pieces that steer random input towards interesting states.
const std::vector<std::string> kTokens = {
    "\r\n", "\n", "\r", ".", "\r\n.\r\n", "..", std::string(1, '\0'), "\xff", std::string(50, 'L'),
    "LHLO x\r\n", "MAIL FROM:<a@example.org>\r\n", "MAIL FROM:<> SIZE=100\r\n", "RCPT TO:<security@example.com>\r\n",
    "RCPT TO:<security+9@example.com>\r\n", "RCPT TO:<x@example.net>\r\n", "DATA\r\n", "RSET\r\n", "NOOP\r\n",
    "QUIT\r\n", "HELO x\r\n",
};

std::size_t pick(std::mt19937& rng, std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); }

char random_byte(std::mt19937& rng) { return static_cast<char>(static_cast<unsigned char>(pick(rng, 256))); }

std::string random_input(std::mt19937& rng) {
  std::string s;
  for (std::size_t n = pick(rng, 60); n > 0; --n) {
    if (pick(rng, 3) == 0)
      s += random_byte(rng);
    else
      s += kTokens[pick(rng, kTokens.size())];
  }
  return s;
}

std::string mutate(std::string s, std::mt19937& rng) {
  for (std::size_t ops = 1 + pick(rng, 3); ops > 0; --ops) {
    switch (pick(rng, 5)) {
      case 0:  // overwrite a byte
        if (!s.empty()) s[pick(rng, s.size())] = random_byte(rng);
        break;
      case 1:  // insert a token
        s.insert(pick(rng, s.size() + 1), kTokens[pick(rng, kTokens.size())]);
        break;
      case 2:  // delete a range
        if (!s.empty()) {
          std::size_t at = pick(rng, s.size());
          s.erase(at, 1 + pick(rng, s.size() - at));
        }
        break;
      case 3:  // duplicate a range somewhere else
        if (!s.empty()) {
          std::size_t at = pick(rng, s.size());
          std::string copy = s.substr(at, 1 + pick(rng, std::min<std::size_t>(s.size() - at, 200)));
          s.insert(pick(rng, s.size() + 1), copy);
        }
        break;
      default:  // truncate
        s.resize(pick(rng, s.size() + 1));
        break;
    }
  }
  return s;
}

// Deterministic per message, so every split of the input sees the same answers;
// covers one-for-all, per-recipient and a wrong number of outcomes.
std::vector<LmtpOutcome> fuzz_store(const LmtpDelivery& d) {
  switch (d.data.size() % 3) {
    case 0:
      return {LmtpOutcome{}};
    case 1:
      return std::vector<LmtpOutcome>(d.recipients.size(), LmtpOutcome{451, "4.3.0", "busy"});
    default:
      return {};
  }
}

// Every reply line is "NNN " or "NNN-" then text, CRLF-terminated.
bool well_formed_replies(std::string_view out) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  while (!out.empty()) {
    std::size_t end = out.find("\r\n");
    if (end == std::string_view::npos) return false;
    std::string_view line = out.substr(0, end);
    if (line.size() < 4 || line[0] < '2' || line[0] > '5' || !digit(line[1]) || !digit(line[2]) ||
        (line[3] != ' ' && line[3] != '-') || line.find('\n') != std::string_view::npos)
      return false;
    out.remove_prefix(end + 2);
  }
  return true;
}

}  // namespace

TEST_CASE("lmtp: fuzz with random input and mutated dialogues", "[lmtp][fuzz]") {
  const LmtpLimits limits = limits_with(300, 40, 3);
  std::vector<std::string> corpus;
  for (const Scenario& sc : all_scenarios()) corpus.push_back(sc.input);

  // Between feeds, with deliveries completed, only a partial command line or
  // the message (plus a possible terminator start) may be held.
  bool bounded = true;
  auto check = [&](const LmtpSession& s) {
    if (s.awaiting_delivery() || s.buffered_bytes() > limits.max_message_size + limits.max_line) bounded = false;
  };

  std::mt19937 rng(20261123);
  std::size_t deliveries = 0;
  std::size_t closed = 0;
  for (int i = 0; i < 5000; ++i) {
    const std::string input = i % 4 == 0 ? random_input(rng) : mutate(corpus[pick(rng, corpus.size())], rng);
    INFO("iteration " << i << ", input:\n" << visible(input));

    const Transcript whole = run(input, {input.size()}, limits, fuzz_store, check);
    const std::string expected = render(whole);
    std::mt19937 split_rng(static_cast<unsigned>(i));
    const Transcript chunked = run(input, pieces(input.size(), Split::random, split_rng), limits, fuzz_store, check);
    const Transcript bytes = run(input, pieces(input.size(), Split::bytes, split_rng), limits, fuzz_store, check);
    if (render(chunked) != expected) CHECK(render(chunked) == expected);
    if (render(bytes) != expected) CHECK(render(bytes) == expected);
    if (!bounded) FAIL("buffered more than a command line and a message");

    if (!well_formed_replies(whole.output)) FAIL("malformed reply in:\n" << visible(whole.output));
    for (const LmtpDelivery& d : whole.deliveries) {
      CHECK(d.data.size() <= limits.max_message_size);
      CHECK_FALSE(d.recipients.empty());
      CHECK(d.recipients.size() <= limits.max_recipients);
      for (const std::string& r : d.recipients) CHECK(accept_alias(r));
    }
    deliveries += whole.deliveries.size();
    closed += whole.closed ? 1 : 0;
  }
  // The inputs reached deep states, not just the command parser.
  CHECK(deliveries > 400);
  CHECK(closed > 600);
}
