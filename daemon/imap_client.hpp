// The IMAP commands the poller uses, over libetpan, with every exchange
// bounded (net.hpp): the reply to each command is capped in size and time,
// a message body to what RFC822.SIZE announced (itself at most
// max_message_size). The server is not trusted; its text reaches logs only
// through net::server_text().
#pragma once

#include <libetpan/libetpan.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace cased::imap {

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SessionFree {
  void operator()(mailimap* s) const { mailimap_free(s); }
};
using Session = std::unique_ptr<mailimap, SessionFree>;

// Keywords cased sets. Stored: the message is in the database and, without
// MOVE or UIDPLUS, stays in the mailbox. TooLarge: over max_message_size,
// left for a person to look at.
inline constexpr const char* kStoredKeyword = "$CasedStored";
inline constexpr const char* kTooLargeKeyword = "$CasedTooLarge";

// Connected, through TLS or STARTTLS as configured, and logged in.
Session connect(const ImapConfig& c, int cancel_fd = -1);

// Throws Failure naming the step, libetpan's code and the server's text.
void check(int rc, const char* what, mailimap* s);

// Before a command: a fresh budget for its reply (bytes and time).
void arm(mailimap* s, std::size_t max_reply = 4u << 20);

struct Entry {
  std::uint32_t uid = 0;
  std::uint32_t size = 0;  // RFC822.SIZE, when asked for
  bool stored = false;     // carries kStoredKeyword
  bool too_large = false;  // carries kTooLargeKeyword
};

// Every message of the selected mailbox (`exists` of them, at most
// kMaxListed: the first ones), by UID ascending, with its flags. No sizes:
// a server may have to open each message for that, and one it cannot open
// would fail the whole listing.
inline constexpr std::uint32_t kMaxListed = 1'000'000;
std::vector<Entry> list(mailimap* s, std::uint32_t exists);

// RFC822.SIZE of one message; nullopt if refused (NO) or vanished.
std::optional<std::uint32_t> fetch_size(mailimap* s, std::uint32_t uid);

// The whole message, without setting \Seen; at most `size` bytes (plus
// slack) are accepted. Nullopt if the server refused it (NO) or it vanished.
std::optional<std::string> fetch_body(mailimap* s, std::uint32_t uid, std::uint32_t size);

// UID STORE +FLAGS.SILENT: \Seen and/or \Flagged and one keyword.
void add_flags(mailimap* s, std::uint32_t uid, bool seen, bool flagged, const char* keyword);

// The message is stored: MOVE it to `done`, or COPY + \Deleted + UID
// EXPUNGE of that UID alone (UIDPLUS). With neither, nothing is expunged
// (a plain EXPUNGE would take other clients' \Deleted mail too): it is
// flagged \Seen and kStoredKeyword and stays.
void finish(mailimap* s, std::uint32_t uid, const std::string& done, bool has_move, bool has_uidplus);

// The server's last response text, safe for a log.
std::string server_said(mailimap* s);

}  // namespace cased::imap
