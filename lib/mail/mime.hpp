// MIME parsing with libetpan. Never throws on bad input and never fails:
// whatever the bytes, it returns a message model, flagging what it had to guess.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mail/message.hpp"

namespace cased {

// Parse a whole RFC 5322 message (LF or CRLF line ends) into the model:
// header fields decoded (RFC 2047 words, RFC 2231 parameters), the MIME tree
// with transfer encodings undone, the text body chosen and converted to UTF-8,
// and the attachments listed. Sets `malformed` and `problems` when it had to guess.
ParsedMessage parse_message(std::string_view raw);
// The same over bytes the caller already shares: the tree's spans point into
// `source`, which is not copied.
ParsedMessage parse_message(const std::shared_ptr<const std::string>& source);

// Parse one MIME entity (headers + body), e.g. the plaintext of a decrypted
// part, into a tree. Used by the PGP layer.
MimePart parse_entity(std::string_view raw);

// Fill `body` and `attachments` of `msg` from `msg.root`: text/plain preferred
// in multipart/alternative, HTML reduced to text when it is the only body,
// every text part converted to UTF-8. Honours `encrypted`/`is_signed` marks.
// Never glues text from encrypted and unencrypted parts silently: when both
// kinds carry text, each block is labelled.
void extract_content(ParsedMessage& msg);

// The attachments extract_content lists for a tree, in the same order, each
// with its bytes (pointing into `root` and the source it was parsed from:
// valid while they live). `casectl save` decodes a stored message again
// with this rather than keeping the bytes.
std::vector<std::pair<Attachment, std::string_view>> attachment_parts(const MimePart& root);

// Helpers exposed for tests and other modules.
std::string to_utf8(std::string_view bytes, std::string_view charset);  // invalid input → U+FFFD
std::string html_to_text(std::string_view html);
std::string decode_header_words(std::string_view value);               // RFC 2047

}  // namespace cased
