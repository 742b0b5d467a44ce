// Text that a sender wrote, made safe for the places it goes. Every byte of
// a message is an attacker's: these are the only functions that turn such
// bytes into something a terminal, a log or a JSON document receives.
#pragma once

#include <optional>
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

// What in valid UTF-8 `text` an analyst's field must not carry into a
// published document, named for a message ("a line break (U+000A)"), or
// nullopt. Always: control characters (C0, DEL, C1; `multiline` allows LF
// and TAB) and the bidi embeddings, overrides and isolates (U+202A-U+202E,
// U+2066-U+2069), which reorder the text around them ("Trojan Source").
// One-line text (not `multiline`) also refuses the invisible format
// characters that can disguise it: bidi marks (U+061C, U+200E, U+200F),
// zero-width characters (U+180E, U+200B-U+200D, U+2060-U+2064, U+FEFF) and
// the line and paragraph separators (U+2028, U+2029).
std::optional<std::string> disguising_character(std::string_view text, bool multiline = false);

}  // namespace cased
