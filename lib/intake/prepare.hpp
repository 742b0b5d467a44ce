// What the intake makes of a message before the store sees it: the bytes,
// the envelope, the parsed (and with a Crypto, decrypted and verified) tree
// and the keys it carried. No database: any thread that owns its Crypto.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/crypto.hpp"
#include "mail/message.hpp"

namespace cased {

// Where a message came in. Stored as "lmtp" | "ingest" | "imap" | "web"
// (to_string / parse_message_source are the only place those words are
// written).
enum class MessageSource {
  lmtp,    // delivered by the MTA over LMTP
  ingest,  // casectl ingest (a file, stdin or an mbox)
  imap,    // fetched from the IMAP mailbox
  web,     // made by cased from a web report form
};
const char* to_string(MessageSource source);
std::optional<MessageSource> parse_message_source(std::string_view word);

// What the web form adds to the message it made (the daemon's web
// listener only; never on the parse workers' wire): the receipt code the
// reporter was given, and the key they pasted, for this case only.
struct WebSubmission {
  std::string receipt;
  std::string address;      // the typed e-mail, lower case ("" = anonymous)
  std::string fingerprint;  // the pasted key ("" = none)

  bool operator==(const WebSubmission&) const = default;
};

// How a message reached us. For LMTP the envelope decides plus-routing;
// for `ingest` and IMAP the headers do (docs/contract.md "Threading").
struct Envelope {
  MessageSource source = MessageSource::ingest;
  std::optional<std::string> mail_from;     // "" = null sender; nullopt = unknown
  std::vector<std::string> recipients;      // LMTP RCPT TO addresses
  std::optional<WebSubmission> web = std::nullopt;  // source web only

  bool operator==(const Envelope&) const = default;
};

// A message parsed (and later decrypted) off the database thread.
struct PreparedMessage {
  std::string raw;                          // exactly as received
  std::string sha256;                       // of the bytes with CRLF line ends
  Envelope envelope;
  ParsedMessage parsed;
  std::vector<ImportedKey> keys;            // keys it carried, now in the keyring

  bool operator==(const PreparedMessage&) const = default;
};

// Parses (and with `crypto`, decrypts and verifies) the message; no
// database, safe on any thread that owns its Crypto.
PreparedMessage prepare_message(std::string raw, Envelope envelope, Crypto* crypto = nullptr);

// SHA-256 of the bytes with every line end made CRLF (docs/contract.md "Mail in").
std::string normalized_sha256(std::string_view raw);

}  // namespace cased
