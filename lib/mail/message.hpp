// The message model: what the MIME parser (and later the PGP layer) make of
// the raw bytes. Plain values, no libetpan types leak out of mime.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cased {

// What the PGP layer made of a message's encryption. Stored and shown as
// "none" | "ok" | "failed" (to_string / parse_decryption_state below are
// the only place those words are written).
enum class DecryptionState {
  none,    // nothing the sender encrypted
  ok,      // decrypted
  failed,  // the sender's ciphertext could not be decrypted; stored as it came
};

// What the PGP layer made of a message's signature. Stored and shown as
// "none" | "good" | "partial" | "bad" | "unknown-key".
enum class SignatureState {
  none,         // unsigned
  good,         // a valid signature over every shown part
  partial,      // a valid signature over some parts only, or parts by another signer
  bad,          // a signature that does not verify (or an expired or revoked key)
  unknown_key,  // signed by a key we do not hold
};

const char* to_string(DecryptionState state);
const char* to_string(SignatureState state);
// The state a stored or transmitted word names; nothing for any other word.
std::optional<DecryptionState> parse_decryption_state(std::string_view word);
std::optional<SignatureState> parse_signature_state(std::string_view word);

struct Attachment {
  std::string filename;      // decoded (RFC 2047 / RFC 2231), UTF-8; may be empty
  std::string content_type;  // "type/subtype", lower case
  std::uint64_t size = 0;    // decoded size in bytes
  std::string sha256;        // hex of the decoded bytes
  bool encrypted = false;    // was inside the encryption
  bool is_signed = false;    // was inside a valid signature

  bool operator==(const Attachment&) const = default;
};

// A stretch of the bytes a MIME tree was parsed from. Every part of a tree
// shares the one copy of those bytes, so a part costs no more than its
// decoded body however deep it sits. Where a part came from is not part of
// its value: spans compare equal and are not sent to or from parse workers.
class SourceSpan {
 public:
  SourceSpan() = default;
  SourceSpan(std::shared_ptr<const std::string> source, std::size_t offset, std::size_t length)
      : source_(std::move(source)), offset_(offset), length_(length) {}
  std::string_view view() const {
    return source_ ? std::string_view(*source_).substr(offset_, length_) : std::string_view();
  }
  bool operator==(const SourceSpan&) const { return true; }

 private:
  std::shared_ptr<const std::string> source_;
  std::size_t offset_ = 0, length_ = 0;
};

// One MIME entity. Bodies are transfer-decoded (base64/QP) but not
// charset-converted; `charset` says what they are in.
struct MimePart {
  std::string type = "text";      // lower case
  std::string subtype = "plain";  // lower case
  std::vector<std::pair<std::string, std::string>> params;  // names lower case, values decoded
  std::vector<std::pair<std::string, std::string>> headers; // this entity's own header fields, unfolded, values raw
  std::string charset;            // lower case, empty when none given
  std::string disposition;        // "inline" | "attachment" | ""
  std::string filename;           // decoded, from disposition or content-type name
  SourceSpan raw_span;            // the entity exactly as in the source: headers + body (for signatures)
  SourceSpan raw_body_span;       // the body exactly as in the source, before transfer decoding
  std::string body;               // transfer-decoded bytes (leaves only)
  std::vector<MimePart> children; // multipart and message/rfc822 children
  bool encrypted = false;         // set by the PGP layer
  bool is_signed = false;         // set by the PGP layer
  bool broken = false;            // the parser had to guess (or stopped: too deep, too many parts)

  std::string param(std::string_view name) const;
  std::string header(std::string_view name) const;   // first field of that name, case-insensitive
  std::string_view raw() const { return raw_span.view(); }
  std::string_view raw_body() const { return raw_body_span.view(); }
  bool is(std::string_view t, std::string_view s) const { return type == t && subtype == s; }
  bool operator==(const MimePart&) const = default;
};

// The certificate of an S/MIME signature's signer, as gpgsm judged it.
struct SmimeSigner {
  std::string fingerprint;             // SHA-1 of the certificate, upper-case hex
  std::string subject;                 // distinguished name, as gpgsm writes it
  std::string issuer;
  std::vector<std::string> addresses;  // subject email and subjectAltName rfc822Name, normalised
  std::string chain;                   // good | expired | revoked | untrusted | bad
  std::string revocation;              // checked | revoked | unavailable | not checked
  std::string reason;                  // why the chain is not good, when gpgsm said

  bool operator==(const SmimeSigner&) const = default;
};

struct ParsedMessage {
  // Header data (from the top-level header, or from protected headers).
  std::string message_id;                  // without angle brackets; empty if absent
  std::vector<std::string> in_reply_to;    // ids without angle brackets
  std::vector<std::string> references;     // ids without angle brackets, in order
  std::string from;                        // addr-spec, as written
  std::string from_name;                   // display name, decoded
  std::string reply_to;                    // addr-spec or empty
  std::string sender;                      // Sender: addr-spec or empty
  std::vector<std::string> to, cc;         // addr-specs
  std::vector<std::string> delivered_to;   // Delivered-To: values, in order
  std::vector<std::string> x_original_to;  // X-Original-To: values, in order
  std::string subject;                     // decoded UTF-8 (the protected subject when there is one)
  std::string outer_subject;               // the outer stand-in, when protected headers replaced it
  std::optional<std::int64_t> date;        // Date: as Unix time, when parseable
  std::string auto_submitted;              // lower case, empty if absent
  std::string precedence;                  // lower case, empty if absent
  std::string list_id;
  std::string autocrypt;                   // raw Autocrypt: header value
  std::string cased_mark;                  // X-Cased-Origin: value (our own mail)

  // Content.
  std::string body;                        // the text body, UTF-8
  std::vector<Attachment> attachments;
  MimePart root;                           // the full tree

  // Problems found while parsing; the message is still stored.
  bool malformed = false;
  std::vector<std::string> problems;

  // Crypto (filled by the PGP layer; defaults mean "plain mail").
  bool encrypted = false;                  // whole content was inside the encryption
  bool mixed = false;                      // some parts encrypted, some not
  DecryptionState decryption = DecryptionState::none;
  std::string decryption_error;            // why it failed
  SignatureState signature = SignatureState::none;
  std::optional<std::string> signer;       // primary key fingerprint, upper case
  std::string signer_uid;
  std::vector<std::string> keys_offered;   // armored key blocks found in the mail
  std::string crypto;                      // "pgp" | "smime" | "" (neither)
  std::optional<SmimeSigner> smime;        // the S/MIME signer's certificate, when a signature named one

  bool operator==(const ParsedMessage&) const = default;
};

}  // namespace cased
