#include "core/text.hpp"

#include <fmt/format.h>

#include <cstdint>

namespace cased {
namespace {

constexpr std::uint32_t kInvalid = 0xFFFFFFFF;

// Decodes one well-formed UTF-8 sequence at s[i] (RFC 3629 table), advancing
// i past it; on an ill-formed one returns kInvalid and advances one byte.
std::uint32_t next_code_point(std::string_view s, std::size_t& i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  std::size_t len = 0;
  std::uint32_t cp = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, cp = b0 & 0x0Fu;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, cp = b0 & 0x07u;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    ++i;
    return kInvalid;
  }
  if (i + len > s.size()) {
    ++i;
    return kInvalid;
  }
  for (std::size_t k = 1; k < len; ++k) {
    unsigned char b = byte(i + k);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
      ++i;
      return kInvalid;
    }
    cp = (cp << 6) | (b & 0x3Fu);
  }
  i += len;
  return cp;
}

bool is_bidi_control(std::uint32_t cp) {
  return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

bool is_reordering_control(std::uint32_t cp) {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

bool is_invisible_format(std::uint32_t cp) {
  return is_bidi_control(cp) || cp == 0x180E || (cp >= 0x200B && cp <= 0x200D) || (cp >= 0x2060 && cp <= 0x2064) ||
         cp == 0xFEFF || cp == 0x2028 || cp == 0x2029;
}

}  // namespace

std::optional<std::string> disguising_character(std::string_view text, bool multiline) {
  for (std::size_t i = 0; i < text.size();) {
    std::uint32_t cp = next_code_point(text, i);
    if (cp == kInvalid) return "bytes that are not UTF-8";
    if (multiline && (cp == '\n' || cp == '\t')) continue;
    if (cp == '\n' || cp == '\r' || cp == 0x85) return fmt::format("a line break (U+{:04X})", cp);
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return fmt::format("a control character (U+{:04X})", cp);
    if (is_reordering_control(cp)) return fmt::format("a bidi control that reorders text (U+{:04X})", cp);
    if (!multiline && (cp == 0x2028 || cp == 0x2029)) return fmt::format("a line break (U+{:04X})", cp);
    if (!multiline && is_invisible_format(cp)) return fmt::format("an invisible format character (U+{:04X})", cp);
  }
  return std::nullopt;
}

bool is_valid_utf8(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size();)
    if (next_code_point(bytes, i) == kInvalid) return false;
  return true;
}

std::string valid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    std::size_t start = i;
    if (next_code_point(bytes, i) == kInvalid) out += "\uFFFD";
    else out.append(bytes.substr(start, i - start));
  }
  return out;
}

std::string display_safe(std::string_view text, bool multiline) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    std::uint32_t cp = next_code_point(text, i);
    if (cp == kInvalid) {
      out += "\uFFFD";
    } else if (multiline && (cp == '\n' || cp == '\t')) {
      out += static_cast<char>(cp);
    } else if (multiline && cp == '\r' && i < text.size() && text[i] == '\n') {
      // the CR of a CRLF line end: dropped, the LF follows
    } else if (cp < 0x20 || cp == 0x7F) {
      out += '^';
      out += static_cast<char>(cp ^ 0x40);
    } else if ((cp >= 0x80 && cp <= 0x9F) || is_bidi_control(cp)) {
      out += fmt::format("<U+{:04X}>", cp);
    } else {
      out.append(text.substr(start, i - start));
    }
  }
  return out;
}

}  // namespace cased
