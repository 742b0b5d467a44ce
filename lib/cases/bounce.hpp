// Bounces of mail we sent (RFC 3464 delivery status notifications and the
// obvious mailer-daemon kind): what they quote of the original and whom it
// failed to reach. Pure: the routing asks the store which case sent what.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "intake/prepare.hpp"

namespace cased {

struct BounceInfo {
  std::vector<std::string> quoted_ids;  // Message-IDs it quotes, at most 16
  // Final-/Original-Recipient addresses, normalised, each once: those the
  // report says failed (Action: failed, or no Action), and those it says
  // were reached (delivered, relayed, expanded). Delayed ones are neither.
  std::vector<std::string> recipients;
  std::vector<std::string> delivered;
};

// Where the body of `raw` starts: after the first empty line (LF or CRLF
// line ends); nullopt without one.
std::optional<std::size_t> header_end(std::string_view raw);

// The bounce `msg` is, when it is a delivery report or comes from a
// mailer-daemon, postmaster or the null sender and quotes at least one
// Message-ID; nullopt otherwise. Reads the MIME tree's shape and the raw
// bytes after the header; linear in the message's size.
std::optional<BounceInfo> bounce_info(const PreparedMessage& msg);

}  // namespace cased
