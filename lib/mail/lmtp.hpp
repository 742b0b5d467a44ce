// The LMTP server dialogue (RFC 2033) as a plain state machine fed bytes.
// No sockets: the daemon reads from its connection, calls feed(), writes
// take_output(), and when a message is complete stores it and calls
// complete_delivery() with one outcome per accepted recipient.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace cased {

struct LmtpLimits {
  std::size_t max_message_size = 52428800;  // bytes of DATA; more gets 552 5.3.4
  std::size_t max_line = 512;                // command line incl. CRLF; more gets 500 5.5.2
  std::size_t max_recipients = 100;          // more gets 452 4.5.3
};

// A complete message, ready to be stored.
struct LmtpDelivery {
  std::string mail_from;                // envelope sender without <>; empty = null sender
  std::vector<std::string> recipients;  // accepted RCPT TO addresses, in order, without <>
  std::string data;                     // the message, dot-unstuffed, line ends as received
};

// What the store said, per accepted recipient.
struct LmtpOutcome {
  int code = 250;                       // 250, 451, 552, 554 ...
  std::string enhanced = "2.0.0";       // e.g. "4.3.0"
  std::string text = "OK";
};

// The one place an error becomes an LMTP reply for a message that was not
// stored. A fault of ours or of the machine (a busy database, I/O, memory,
// a hung gpg-agent, a parse worker that died or hung, a broken invariant)
// is 451 4.3.0, a full disk 452 4.3.1 ("mail system full", RFC 3463): the
// MTA keeps the message and retries, so nothing is lost. Only
// a verdict about the message itself (invalid, refused, not found) is a
// permanent 5xx, which the MTA returns to its sender. The error's own
// message is for the log, never for the peer.
LmtpOutcome outcome_for(const Error& error);

class LmtpSession {
 public:
  // `accept_recipient` decides RCPT TO (the address without <>): true → 250, false → 550 5.1.1.
  // It runs while input is being parsed, so it must not call back into the session.
  LmtpSession(std::string hostname, LmtpLimits limits,
              std::function<bool(std::string_view)> accept_recipient);

  // The 220 banner to send first.
  std::string greeting() const;

  // Feed bytes read from the client. Replies accumulate for take_output().
  // When a DATA transaction completes, input processing pauses (the rest stays
  // buffered, pipelining is honoured) until complete_delivery() is called.
  void feed(std::string_view bytes);

  // Replies produced so far, to be written to the client.
  std::string take_output();

  // The message waiting to be stored, if any (returned once).
  std::optional<LmtpDelivery> take_delivery();
  bool awaiting_delivery() const;

  // Store outcome: one entry, or one per recipient. Emits the per-recipient
  // replies and resumes processing of buffered input.
  void complete_delivery(const std::vector<LmtpOutcome>& outcomes);

  // The daemon is stopping: queue "421 4.3.2 ..." and close.
  void shutdown(std::string_view why);
  // The client idled too long: queue "421 4.4.2 ..." and close.
  void timeout();
  // The client took too long over one command or transaction: "421 4.4.2 ...", close.
  void transaction_timeout();

  // True while a command line or a transaction (MAIL through the end of
  // DATA) is under way: the time a client may spend here is bounded by the
  // caller (lmtp.transaction_timeout), however often it sends a byte.
  bool busy() const;

  // True after QUIT or a fatal error: write what is left in output, then close.
  bool closed() const;
  // True while in the middle of DATA (for logging a vanished client).
  bool in_data() const;
  // Bytes currently held: unconsumed input plus the message being received or
  // awaiting take_delivery(). Lets callers and tests check memory stays bounded.
  std::size_t buffered_bytes() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace cased
