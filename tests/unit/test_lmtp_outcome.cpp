// outcome_for: the one mapping from an Error to the LMTP reply for a message
// that was not stored. Faults of ours or of the machine are 4xx (the MTA
// keeps the message and retries); a verdict on the message itself is 5xx.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/error.hpp"
#include "mail/lmtp.hpp"

using cased::Errc;
using cased::Error;
using cased::LmtpOutcome;
using cased::outcome_for;

namespace {

struct Expected {
  Errc code;
  int reply;
  std::string enhanced;
};

// Every Errc, with the reply it must get.
const std::vector<Expected> kEveryErrc = {
    {Errc::temporary, 451, "4.3.0"},  // I/O, out of memory, dead parse worker
    {Errc::full, 452, "4.3.1"},       // RFC 3463: mail system full
    {Errc::busy, 451, "4.3.0"},       // another process holds the database's write lock
    {Errc::unavailable, 451, "4.3.0"},  // gpg-agent hung or gone
    {Errc::internal, 451, "4.3.0"},   // a broken invariant: our fault, not the message's
    {Errc::invalid, 554, "5.6.0"},
    {Errc::refused, 550, "5.7.1"},
    {Errc::not_found, 550, "5.1.1"},
};

}  // namespace

TEST_CASE("outcome_for: temporary faults are 451 4.3.0, verdicts on the message are 5xx", "[lmtp][outcome]") {
  for (const auto& e : kEveryErrc) {
    CAPTURE(cased::to_string(e.code));
    LmtpOutcome o = outcome_for(Error{e.code, "detail"});
    CHECK(o.code == e.reply);
    CHECK(o.enhanced == e.enhanced);
    // The enhanced code's class matches the reply's class (RFC 3463).
    CHECK(o.enhanced.front() == static_cast<char>('0' + o.code / 100));
    CHECK_FALSE(o.text.empty());
  }
  // The text MTAs log and tests expect for a temporary failure.
  CHECK(outcome_for(Error{Errc::temporary, "database is locked"}).text == "temporary failure, please try again later");
}

TEST_CASE("outcome_for: the error's own message never reaches the peer", "[lmtp][outcome]") {
  const std::string secret = "disk I/O error at /var/lib/cased/cases.db\r\n250 2.0.0 OK";
  for (const auto& e : kEveryErrc) {
    LmtpOutcome o = outcome_for(Error{e.code, secret});
    CHECK(o.text.find("cases.db") == std::string::npos);
    CHECK(o.text.find('\n') == std::string::npos);
  }
}

TEST_CASE("outcome_for: a code outside the enum is retried, never accepted or bounced", "[lmtp][outcome]") {
  LmtpOutcome o = outcome_for(Error{static_cast<Errc>(99), "corrupt"});
  CHECK(o.code == 451);
  CHECK(o.enhanced == "4.3.0");
}

TEST_CASE("outcome_for: a session answers each recipient with the mapped reply", "[lmtp][outcome]") {
  cased::LmtpSession s("lmtp.example.com", {}, [](std::string_view) { return true; });
  s.feed("LHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<security@example.com>\r\nDATA\r\nm\r\n.\r\n");
  s.take_output();
  REQUIRE(s.awaiting_delivery());
  s.complete_delivery({outcome_for(Error{Errc::refused, "no"})});
  CHECK(s.take_output() == "550 5.7.1 delivery refused\r\n");
  s.feed("MAIL FROM:<a@example.org>\r\nRCPT TO:<security@example.com>\r\nDATA\r\nm\r\n.\r\n");
  s.take_output();
  REQUIRE(s.awaiting_delivery());
  s.complete_delivery({outcome_for(Error{Errc::temporary, "database is locked"})});
  CHECK(s.take_output() == "451 4.3.0 temporary failure, please try again later\r\n");
}
