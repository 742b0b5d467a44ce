#include "core/safe_name.hpp"

#include <cstdint>
#include <string>

#include "core/text.hpp"

namespace cased {
namespace {

constexpr std::size_t kMaxExtension = 16;  // bytes of ".ext" kept when the stem is cut

// Decodes the code point at s[i] of valid UTF-8 and advances i past it.
std::uint32_t decode(std::string_view s, std::size_t& i) {
  auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
  std::uint32_t cp = n == 4 ? (b & 0x07u) : n == 3 ? (b & 0x0Fu) : n == 2 ? (b & 0x1Fu) : b;
  for (std::size_t k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
  i += n;
  return cp;
}

// What never goes into a name: controls, bidi and zero-width characters,
// line and paragraph separators.
bool dropped(std::uint32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || (cp >= 0x200B && cp <= 0x200F) ||
         (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF;
}

// Skips the rest of an escape sequence whose introducer (ESC, or C1 CSI /
// OSC) ended at i: CSI parameters up to the final byte, an OSC string up to
// BEL or ST, or the one character after a bare ESC.
void skip_escape(std::string_view s, std::size_t& i, std::uint32_t introducer) {
  bool csi = introducer == 0x9B, osc = introducer == 0x9D;
  if (introducer == 0x1B && i < s.size()) {
    std::uint32_t next = decode(s, i);
    csi = next == '[';
    osc = next == ']';
    if (!csi && !osc) return;  // a two-character escape: both gone
  }
  while (i < s.size()) {
    std::uint32_t cp = decode(s, i);
    if (csi && cp >= 0x40 && cp <= 0x7E) return;
    if (osc && (cp == 0x07 || cp == 0x9C)) return;
    if (osc && cp == 0x1B) {
      if (i < s.size() && s[i] == '\\') ++i;
      return;
    }
    if (csi && (cp < 0x20 || cp > 0x7E)) return;  // not a parameter: the sequence is over
  }
}

bool is_space(char c) { return c == ' '; }

// Cuts `name` to at most `max` bytes at a character boundary, keeping a
// short extension.
std::string shorten(const std::string& name, std::size_t max) {
  if (name.size() <= max) return name;
  std::string ext;
  auto dot = name.rfind('.');
  if (dot != std::string::npos && dot > 0 && name.size() - dot <= kMaxExtension) ext = name.substr(dot);
  std::size_t cut = max - ext.size();
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  return name.substr(0, cut) + ext;
}

}  // namespace

std::string safe_file_name(std::string_view name, std::string_view fallback) {
  std::string text = valid_utf8(name);
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    std::uint32_t cp = decode(text, i);
    if (cp == '/' || cp == '\\') {
      out.clear();  // only the last component counts
    } else if (cp == 0x1B || cp == 0x9B || cp == 0x9D) {
      skip_escape(text, i, cp);
    } else if (!dropped(cp)) {
      out.append(text, start, i - start);
    }
  }
  std::size_t first = 0;
  while (first < out.size() && (out[first] == '.' || out[first] == '-' || is_space(out[first]))) ++first;
  std::size_t last = out.size();
  while (last > first && (out[last - 1] == '.' || is_space(out[last - 1]))) --last;
  out = shorten(out.substr(first, last - first), kMaxSafeName);
  // A cut may leave a trailing dot or space again.
  while (!out.empty() && (out.back() == '.' || is_space(out.back()))) out.pop_back();
  return out.empty() ? std::string(fallback) : out;
}

std::string numbered_name(std::string_view name, int n) {
  if (n == 0) return std::string(name);
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return std::string(name) + "-" + std::to_string(n);
  return std::string(name.substr(0, dot)) + "-" + std::to_string(n) + std::string(name.substr(dot));
}

}  // namespace cased
