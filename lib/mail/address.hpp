// One strict check for the addresses and Message-IDs that cased takes from
// mail or from an analyst and later writes into a header or an SMTP command.
// Whatever passes contains no control character, no space outside a quoted
// local part, and nothing that could end a header line or an SMTP command.
#pragma once

#include <string>
#include <string_view>

namespace cased {

// RFC 5322 addr-spec, ASCII only: a dot-atom or quoted-string local part
// (at most 64 octets), "@", and a domain that is a dot-atom of letters,
// digits, hyphens and underscores (labels of 1..63, at most 253 octets) or a
// domain literal "[...]". At most 254 octets in all. No obsolete forms, no
// comments, no CR, LF, NUL or any other control character.
bool valid_addr_spec(std::string_view address);

// RFC 5322 msg-id without its angle brackets: dot-atom-text "@" (dot-atom-text
// or a no-fold literal "[...]"), at most 250 octets, printable ASCII only.
bool valid_msg_id(std::string_view id);

// Lower-cased addr-spec without <> and whitespace.
std::string normalize_address(std::string_view addr);

// The key under which mail to `addr` is rate-limited (acknowledgements, the
// daily cap): the local part unquoted ("vic"@x is vic@x) and cut at its
// first '+', all lower case. Every variant of one mailbox has one key.
std::string rate_key(std::string_view addr);

}  // namespace cased
