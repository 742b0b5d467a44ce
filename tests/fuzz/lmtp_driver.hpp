// Feeds a fuzz input to an LmtpSession the way the daemon does: in reads of
// varying size, taking each completed delivery to `deliver` and answering
// with its outcomes before the next bytes are processed.
#pragma once

#include <cstdlib>
#include <functional>
#include <string_view>
#include <vector>

#include "mail/lmtp.hpp"
#include "cases/threading.hpp"
#include "mail/address.hpp"

namespace cased::fuzz {

using Deliver = std::function<std::vector<LmtpOutcome>(LmtpDelivery&)>;

inline void drive_lmtp(std::string_view input, const LmtpLimits& limits, const Deliver& deliver) {
  const std::string alias = "security@example.com";
  LmtpSession session("mx.example.com", limits,
                      [&alias](std::string_view rcpt) { return match_alias(rcpt, alias).ours; });
  std::string out = session.greeting();
  // The read size follows from the input, so that a corpus file replays the
  // same way each time: whole 16 KB reads, single bytes, or odd sizes that
  // split CRLF and "\r\n.\r\n".
  static constexpr std::size_t kReads[] = {16384, 1, 7, 509};
  const std::size_t step = kReads[input.size() % 4];
  std::size_t fed = 0;
  while (fed < input.size() && !session.closed()) {
    std::string_view chunk = input.substr(fed, step);
    fed += chunk.size();
    session.feed(chunk);
    out += session.take_output();
    while (auto delivery = session.take_delivery()) {
      session.complete_delivery(deliver(*delivery));
      out += session.take_output();
    }
    // What it holds comes from what it was fed.
    if (session.buffered_bytes() > fed) std::abort();
  }
  if (!session.closed()) session.timeout();
  out += session.take_output();
}

}  // namespace cased::fuzz
