// File names a sender chose, made into names casectl may create: the name
// of an attachment is the sender's text, and `save` writes files under it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cased {

// The longest name safe_file_name() returns, in bytes: room for a "-NNN"
// suffix (numbered_name) under NAME_MAX (255).
inline constexpr std::size_t kMaxSafeName = 200;

// The base name of `name` as a file name that stays where it is written and
// prints inert: valid UTF-8 (ill-formed bytes become U+FFFD); everything up
// to the last '/' or '\' dropped; terminal escape sequences (ESC and C1 CSI
// or OSC with their parameters) dropped whole; every other C0 or C1
// control, DEL, bidi control, zero-width character and line or paragraph
// separator dropped; leading dots, dashes and white space and trailing dots
// and white space dropped (never hidden, never an option, never "." or
// ".."); at most kMaxSafeName bytes, cut at a character boundary and
// keeping a short extension. `fallback` when nothing is left.
std::string safe_file_name(std::string_view name, std::string_view fallback);

// "poc.c" numbered n: "poc-1.c"; "README": "README-1"; n == 0: the name.
std::string numbered_name(std::string_view name, int n);

}  // namespace cased
