// Composing the mail cased sends, without a database or a network: header
// fields (folded, RFC 2047 where they are not plain ASCII), quoted-printable
// text, and PGP/MIME (RFC 3156): multipart/encrypted around a signed entity,
// or multipart/signed, the real subject protected inside (protected headers
// v1). Crypto is used only to sign and encrypt.
//
// Nothing a sender wrote can end a header line: values are folded or
// encoded here, and addresses and Message-IDs are checked before they go in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "crypto/crypto.hpp"

namespace cased::compose {

// "Name: value\r\n", folded before a space so that no line passes 78
// characters. A value that is not printable ASCII (any control character,
// CR and LF included, or any byte past 0x7e), or has a word too long to
// fold, goes as RFC 2047 encoded words (UTF-8, base64), one per line, each
// whole code points; control characters in it become spaces.
std::string header_field(std::string_view name, std::string_view value);

// Quoted-printable (RFC 2045): CRLF line ends, lines of at most 76
// characters, "From " and "." at a line start escaped.
std::string quoted_printable(std::string_view text);

// Every bare LF as CRLF.
std::string to_crlf(std::string_view text);

// Date: in RFC 5322 form, UTC.
std::string rfc5322_date(std::int64_t unix_seconds);

// `bytes` random bytes as lower-case hex.
std::string random_hex(std::size_t bytes);

// A new Message-ID (without angle brackets) in the alias's domain.
std::string make_message_id(std::int64_t case_id, std::int64_t now, std::string_view alias);
// One for mail to the public (an announcement): random, naming no case.
std::string make_public_message_id(std::string_view alias);

// The subject with every leading "Re:" and "[tag#n]" taken off.
std::string strip_tag_and_re(std::string_view subject, std::string_view tag);

struct Subjects {
  std::string inner;  // under the encryption (protected headers)
  std::string outer;  // what the envelope shows
};

// A reply: encrypted mail shows only the tag and "Encrypted message" outside
// and "Re: [tag#n] <case subject>" inside; signed-only mail travels in clear
// and says nothing of the case on either side.
Subjects reply_subjects(std::string_view tag, std::int64_t case_id, std::string_view case_subject, bool encrypt);
// A vendor notification says nothing of the report outside or inside: the
// tag and a fixed text ("Encrypted message" outside when encrypted).
Subjects notify_subjects(std::string_view tag, std::int64_t case_id, bool encrypt);
// The acknowledgement's subject echoes nothing of the report.
std::string ack_subject(std::string_view tag, std::int64_t case_id);
std::string digest_subject(std::string_view tag, std::int64_t now);
// The acknowledgement's text from its template ({tag}, {alias}, {policy}).
std::string ack_text(std::string_view templ, std::string_view tag, std::string_view alias, std::string_view policy_url);

// A file sent with a reply, inside the encryption: its base name, a MIME
// type and its bytes.
struct Part {
  std::string filename;
  std::string content_type = "application/octet-stream";
  std::string bytes;
};

// The MIME type for a file name's extension (a short table of what reports
// carry); application/octet-stream for anything else.
std::string guess_content_type(std::string_view filename);

// The body of a multipart/mixed with `boundary`: the text (quoted-printable)
// and each part (base64, Content-Disposition: attachment with its name,
// RFC 2231 encoded when it is not plain ASCII).
std::string mixed_body(std::string_view text, const std::vector<Part>& parts, std::string_view boundary);

struct Draft {
  std::string from;                     // the alias
  std::vector<std::string> to;
  std::string message_id;               // without angle brackets
  Subjects subject;
  std::string text;                     // the body, UTF-8, any line ends
  std::string in_reply_to;              // left out unless a valid msg-id
  std::vector<std::string> references;  // those that are not valid msg-ids are left out
  bool automatic = false;               // Auto-Submitted: auto-replied
  std::int64_t date = 0;
  std::vector<std::string> cc;          // Cc: (also recipients)
  std::vector<Part> attachments;        // after the text, in a multipart/mixed entity
  std::string reply_to;                 // Reply-To: (an addr-spec), or "" for none
};

// Errc::invalid when `from`, a recipient (To or Cc) or a Reply-To is not one addr-spec, or the
// Message-ID is not a msg-id: none of them can then end a line.
Status check_draft(const Draft& draft);

// The outer header block, up to and including MIME-Version and the
// X-Cased-Origin mark, without Content-Type.
std::string outer_headers(const Draft& draft);
// The signed (and, when encrypting, encrypted) entity: text/plain in
// quoted-printable, with protected headers (From, To, Cc, the inner
// Subject, Message-ID); with attachments, a multipart/mixed of the text and
// each file in base64 (compose_parts.cpp).
std::string inner_entity(const Draft& draft);
// The PGP/MIME bodies around what Crypto made, with their Content-Type.
std::string multipart_encrypted(std::string_view armored, std::string_view boundary);
std::string multipart_signed(std::string_view inner, std::string_view signature, std::string_view micalg,
                             std::string_view boundary);

struct Sealing {
  std::string signing_key;                 // gpg.signing_key; "" = the alias's own key
  bool encrypt = false;
  std::vector<std::string> recipient_keys; // fingerprints; the signing key is added
  // S/MIME instead of PGP when not empty (and encrypting): the recipients'
  // certificates; the alias's certificate signs and is added.
  std::vector<std::string> certificates = {};
};

struct Composed {
  std::string raw;     // the whole message, CRLF line ends
  std::string signer;  // fingerprint of the key that signed it
};

// The whole message: signed with the alias's key, and encrypted to the
// recipients and the alias when `sealing.encrypt`; with certificates, as
// S/MIME (application/pkcs7-mime enveloped-data around a multipart/signed
// entity: signed, then encrypted).
Result<Composed> compose(const Draft& draft, const Sealing& sealing, Crypto& crypto);

}  // namespace cased::compose
