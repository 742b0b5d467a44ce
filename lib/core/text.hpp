// Text that a sender wrote, made safe for the places it goes. Every byte of
// a message is an attacker's: these are the only functions that turn such
// bytes into something a terminal, a log or a JSON document receives.
#pragma once

#include <string>
#include <string_view>

namespace cased {

// The bytes as valid UTF-8: every ill-formed sequence (overlong forms,
// surrogates, code points past U+10FFFF, truncated or stray bytes) becomes
// U+FFFD. Valid input comes back unchanged.
std::string valid_utf8(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

// Text for an analyst's terminal or a log line: valid UTF-8, with C0
// controls and DEL in caret notation (^[ for ESC), C1 controls and the bidi
// controls as <U+202E>. `multiline` keeps LF and TAB (and drops the CR of a
// CRLF); otherwise they are shown like any other control.
std::string display_safe(std::string_view text, bool multiline = false);

}  // namespace cased
