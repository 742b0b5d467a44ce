// The terminal and log sanitizer: checks what text.hpp promises, not just
// that it does not crash.
#include <cstdlib>

#include "fuzz_common.hpp"
#include "core/text.hpp"

namespace {

// True when `s` (valid UTF-8, so every sequence is complete) holds a code
// point that must not reach a terminal: C0 (but LF and TAB when multiline),
// DEL, C1 or a bidi control.
bool has_controls(std::string_view s, bool multiline) {
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    char32_t cp = b;
    std::size_t n = 1;
    if (b >= 0xF0) {
      cp = b & 0x07u, n = 4;
    } else if (b >= 0xE0) {
      cp = b & 0x0Fu, n = 3;
    } else if (b >= 0xC0) {
      cp = b & 0x1Fu, n = 2;
    }
    for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
    i += n;
    if (multiline && (cp == U'\n' || cp == U'\t')) continue;
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) return true;
    if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F ||
        cp == 0x061C)
      return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = cased::fuzz::as_view(data, size);
  std::string valid = cased::valid_utf8(in);
  if (!cased::is_valid_utf8(valid)) std::abort();
  if (cased::is_valid_utf8(in) && valid != in) std::abort();
  if (cased::valid_utf8(valid) != valid) std::abort();
  for (bool multiline : {false, true}) {
    std::string shown = cased::display_safe(in, multiline);
    if (!cased::is_valid_utf8(shown)) std::abort();
    if (has_controls(shown, multiline)) std::abort();
  }
  return 0;
}
