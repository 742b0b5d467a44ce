// Base64 (RFC 4648, the standard alphabet, with padding), the project's one
// codec: GnuTLS's raw base64, without PEM armour or line breaks.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cased {

// One line of base64, no line breaks.
std::string base64_encode(std::string_view bytes);

// Decodes base64 that may be broken by white space; nullopt when the text is
// not base64 (a stray character, or a length no encoder makes).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace cased
