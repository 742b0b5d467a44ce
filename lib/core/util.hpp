// Small helpers shared by the core: hashing, text, time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cased {

std::string sha256_hex(std::string_view bytes);
std::string sha512_hex(std::string_view bytes);
// SHA-256 of the bytes with every bare LF taken as CRLF (docs/contract.md "Mail in").
std::string crlf_sha256_hex(std::string_view bytes);
std::string to_lower(std::string_view s);
std::string trim(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
// One line of at most `w` code points (an ellipsis marks a cut), control
// characters made spaces: a subject cannot move a terminal's cursor.
std::string clip(std::string_view s, std::size_t w);

// "Now" as Unix seconds. In a build with CASED_TEST_HOOKS (tests only),
// CASED_NOW (Unix seconds or RFC 3339) fixes it; release builds ignore it.
std::int64_t now_unix();
// 2026-11-22T21:56:20Z
std::string format_rfc3339(std::int64_t unix_seconds);
// Parses 2026-11-22T21:56:20Z or 2026-11-22 (midnight UTC); false on error.
bool parse_rfc3339(std::string_view text, std::int64_t& out);

}  // namespace cased
