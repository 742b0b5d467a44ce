// LmtpSession::busy() tells the daemon when a command or a transaction is
// under way, which is what lmtp.transaction_timeout bounds.
#include <catch2/catch.hpp>

#include "mail/lmtp.hpp"

using cased::LmtpSession;

TEST_CASE("busy from the first byte of a command to the end of its transaction", "[lmtp]") {
  LmtpSession s("h", {}, [](std::string_view) { return true; });
  CHECK_FALSE(s.busy());
  s.feed("LH");
  CHECK(s.busy());  // half a command line
  s.feed("LO x\r\n");
  CHECK_FALSE(s.busy());
  s.feed("MAIL FROM:<a@b>\r\n");
  CHECK(s.busy());
  s.feed("RCPT TO:<c@d>\r\nDATA\r\nhello\r\n");
  CHECK(s.busy());
  s.feed(".\r\n");
  CHECK(s.awaiting_delivery());
  CHECK_FALSE(s.busy());  // the store runs on the daemon's time, not the client's
  s.take_delivery();
  s.complete_delivery({cased::LmtpOutcome{}});
  CHECK_FALSE(s.busy());
  s.feed("MAIL FROM:<a@b>\r\nRSET\r\n");
  CHECK_FALSE(s.busy());
  s.transaction_timeout();
  CHECK(s.closed());
  CHECK(s.take_output().find("421 4.4.2 transaction timeout\r\n") != std::string::npos);
}
