// Text in mail: UTF-8 checks, charset conversion (iconv, with our own
// windows-1252), RFC 2047 words (libetpan) and HTML reduced to text. Every
// function here is linear in its input: hostile mail must not buy quadratic work.
#include <iconv.h>
#include <libetpan/libetpan.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>

#include "mail/mime.hpp"
#include "mail/mime_internal.hpp"
#include "core/util.hpp"

namespace cased {
namespace mime_detail {
namespace {

// --- UTF-8 -----------------------------------------------------------------

// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t utf8_seq(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  unsigned cp = n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

// Length of the run from i of ASCII bytes other than NUL, eight at a time:
// most mail text is exactly that and needs no per-character work.
std::size_t plain_ascii_run(std::string_view s, std::size_t i) {
  const std::size_t start = i;
  constexpr std::uint64_t high = 0x8080808080808080ull, ones = 0x0101010101010101ull;
  while (i + 8 <= s.size()) {
    std::uint64_t w = 0;
    std::memcpy(&w, s.data() + i, 8);
    // Stop at a byte with its high bit set, or a zero byte.
    if ((w & high) != 0 || ((w - ones) & ~w & high) != 0) break;
    i += 8;
  }
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80 && s[i] != '\0') ++i;
  return i - start;
}

// Valid UTF-8 without NUL: what sanitize_utf8 leaves unchanged.
}  // namespace

// Valid UTF-8 without NUL: what sanitize_utf8 leaves unchanged.
bool clean_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (std::size_t run = plain_ascii_run(s, i)) {
      i += run;
      continue;
    }
    std::size_t n = utf8_seq(s, i);
    if (!n || s[i] == '\0') return false;
    i += n;
  }
  return true;
}

// Keeps valid UTF-8, replaces everything else (and NUL) with U+FFFD.
std::string sanitize_utf8(std::string_view s) {
  if (clean_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    if (std::size_t run = plain_ascii_run(s, i)) {
      out.append(s.substr(i, run));
      i += run;
      continue;
    }
    std::size_t n = utf8_seq(s, i);
    if (!n || s[i] == '\0') {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

namespace {

std::string windows1252_to_utf8(std::string_view s) {
  // 0x80-0x9F differ from latin-1; the rest maps to the same code point.
  static constexpr unsigned short cp1252[32] = {
      0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  for (char ch : s) {
    unsigned c = static_cast<unsigned char>(ch);
    if (c >= 0x80 && c < 0xA0) c = cp1252[c - 0x80];
    if (c == 0) c = 0xFFFD;
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

}  // namespace

// Undeclared or unknown 8-bit text: UTF-8 if it is valid, else windows-1252.
std::string guess_to_utf8(std::string_view s) {
  if (clean_utf8(s)) return std::string(s);
  return windows1252_to_utf8(s);
}
// --- HTML --------------------------------------------------------------------

void append_code_point(std::string& out, unsigned cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace mime_detail

using namespace mime_detail;

std::string to_utf8(std::string_view bytes, std::string_view charset_in) {
  std::string charset = to_lower(trim(charset_in));
  if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') charset = charset.substr(1, charset.size() - 2);
  if (charset.empty() || charset == "us-ascii" || charset == "ascii" || charset == "utf-8" || charset == "utf8" ||
      charset == "unknown-8bit" || charset == "x-unknown") {
    if (clean_utf8(bytes)) return std::string(bytes);  // the common case: one copy
    return sanitize_utf8(guess_to_utf8(bytes));
  }
  if (charset == "iso-8859-1" || charset == "latin1" || charset == "latin-1" || charset == "windows-1252" ||
      charset == "cp1252" || charset == "iso8859-1")
    return sanitize_utf8(windows1252_to_utf8(bytes));
  iconv_t cd = iconv_open("UTF-8", charset.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return sanitize_utf8(guess_to_utf8(bytes));
  std::unique_ptr<void, int (*)(iconv_t)> owner(cd, iconv_close);
  std::string out;
  out.reserve(bytes.size() * 2 + 16);
  std::string in(bytes);
  char* inp = in.data();
  std::size_t inleft = in.size();
  char buf[8192];
  while (inleft > 0) {
    char* outp = buf;
    std::size_t outleft = sizeof buf;
    std::size_t rc = iconv(cd, &inp, &inleft, &outp, &outleft);
    out.append(buf, sizeof buf - outleft);
    if (rc == static_cast<std::size_t>(-1)) {
      if (errno == E2BIG) continue;
      // Invalid or truncated input: mark it and skip one byte.
      out += "\xEF\xBF\xBD";
      ++inp;
      --inleft;
      iconv(cd, nullptr, nullptr, nullptr, nullptr);
    }
  }
  char* outp = buf;
  std::size_t outleft = sizeof buf;
  iconv(cd, nullptr, nullptr, &outp, &outleft);  // flush shift state (ISO-2022-JP)
  out.append(buf, sizeof buf - outleft);
  return sanitize_utf8(out);
}

std::string decode_header_words(std::string_view value) {
  std::string v(value);
  if (v.find("=?") == std::string::npos) return sanitize_utf8(guess_to_utf8(v));
  std::size_t idx = 0;
  char* out = nullptr;
  // Undeclared 8-bit bytes around encoded words: read as latin-1 then checked.
  int rc = mailmime_encoded_phrase_parse("utf-8", v.c_str(), v.size(), &idx, "utf-8", &out);
  if (rc != MAILIMF_NO_ERROR || !out) return sanitize_utf8(guess_to_utf8(v));
  std::string decoded(out);
  free(out);  // NOLINT(cppcoreguidelines-no-malloc): libetpan allocates with malloc
  return sanitize_utf8(decoded);
}

namespace {

bool ascii_iequal(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    char c = a[k];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[k]) return false;
  }
  return true;
}

// Where "</name" starts (any case) at or after `from`, or npos. Looks at each
// '<' once, so skipping an element costs its own length, not the document's.
std::size_t find_close_tag(std::string_view html, std::string_view name, std::size_t from) {
  for (std::size_t pos = html.find('<', from); pos != std::string_view::npos; pos = html.find('<', pos + 1)) {
    if (pos + 2 + name.size() <= html.size() && html[pos + 1] == '/' &&
        ascii_iequal(html.substr(pos + 2, name.size()), name))
      return pos;
  }
  return std::string_view::npos;
}

const std::map<std::string, unsigned, std::less<>>& named_entities() {
  static const std::map<std::string, unsigned, std::less<>> named = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", ' '},
      {"copy", 0xA9}, {"reg", 0xAE}, {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013},
      {"rsquo", 0x2019}, {"lsquo", 0x2018}, {"rdquo", 0x201D}, {"ldquo", 0x201C}, {"euro", 0x20AC},
      {"eacute", 0xE9}, {"egrave", 0xE8}, {"agrave", 0xE0}, {"aacute", 0xE1}, {"auml", 0xE4},
      {"ouml", 0xF6}, {"uuml", 0xFC}, {"Auml", 0xC4}, {"Ouml", 0xD6}, {"Uuml", 0xDC}, {"szlig", 0xDF},
      {"ccedil", 0xE7}, {"ntilde", 0xF1}, {"laquo", 0xAB}, {"raquo", 0xBB}, {"middot", 0xB7},
      {"bull", 0x2022}, {"trade", 0x2122}, {"times", 0xD7}, {"deg", 0xB0}, {"shy", 0xAD}};
  return named;
}

// The entity at html[i] == '&': its code point and length, or 0. Looks at
// most a few bytes ahead, never for a ';' to the end of the document.
unsigned entity_at(std::string_view html, std::size_t i, std::size_t& length) {
  std::string_view window = html.substr(i, 11);
  auto semi = window.find(';');
  if (semi == std::string_view::npos) return 0;
  std::string_view ent = window.substr(1, semi - 1);
  length = semi + 1;
  if (!ent.empty() && ent[0] == '#') {
    bool hex = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X');
    std::string_view digits = ent.substr(hex ? 2 : 1);
    if (digits.empty()) return 0xFFFD;
    unsigned cp = 0;
    for (char c : digits) {
      int d = c >= '0' && c <= '9' ? c - '0'
              : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
              : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                            : -1;
      if (d < 0) return 0xFFFD;
      cp = cp * (hex ? 16 : 10) + static_cast<unsigned>(d);  // at most 8 digits: no overflow
    }
    return cp ? cp : 0xFFFD;
  }
  auto it = named_entities().find(ent);
  return it == named_entities().end() ? 0 : it->second;
}

class HtmlText {
 public:
  explicit HtmlText(std::size_t size_hint) { out_.reserve(size_hint / 2); }
  void newline(int n) {
    while (!out_.empty() && out_.back() == ' ') out_.pop_back();
    if (out_.empty()) return;
    int have = 0;
    for (auto it = out_.rbegin(); it != out_.rend() && *it == '\n' && have < n; ++it) ++have;
    for (; have < n; ++have) out_ += '\n';
  }
  // A tag's effect on the text: line breaks, list bullets, cell separators.
  void tag(std::string_view name, bool closing) {
    if (name == "br") newline(1);
    else if (name == "p" || name == "div" || name == "tr" || name == "table" || name == "blockquote" ||
             name == "pre" || (name.size() == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6'))
      newline(closing ? 2 : (name == "div" || name == "tr" ? 1 : 2));
    else if (name == "li" && !closing) {
      newline(1);
      out_ += "* ";
    } else if ((name == "td" || name == "th") && closing) out_ += "\t";
    space_ = false;
  }
  void code_point(unsigned cp) {
    append_code_point(out_, cp);
    space_ = false;
  }
  void character(char c) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (!space_ && !out_.empty() && out_.back() != '\n') out_ += ' ';
      space_ = true;
      return;
    }
    out_ += c;
    space_ = false;
  }
  std::string finish() {
    while (!out_.empty() && (out_.back() == ' ' || out_.back() == '\n')) out_.pop_back();
    if (!out_.empty()) out_ += '\n';
    return sanitize_utf8(out_);
  }

 private:
  std::string out_;
  bool space_ = false;
};

// The lower-case name of the tag in html[i+1, end): "script" for "<SCRIPT src=..>".
std::string tag_name(std::string_view inner, bool& closing) {
  closing = !inner.empty() && inner.front() == '/';
  if (closing) inner.remove_prefix(1);
  inner = inner.substr(0, std::min(inner.find_first_of(" \t\r\n/"), std::size_t{16}));
  return to_lower(inner);
}

}  // namespace

std::string html_to_text(std::string_view html) {
  HtmlText text(html.size());
  std::size_t i = 0;
  while (i < html.size()) {
    char c = html[i];
    if (c == '<') {
      if (html.substr(i, 4) == "<!--") {
        auto close = html.find("-->", i + 4);
        i = close == std::string_view::npos ? html.size() : close + 3;
        continue;
      }
      auto end = html.find('>', i);
      if (end == std::string_view::npos) break;
      bool closing = false;
      std::string name = tag_name(html.substr(i + 1, end - i - 1), closing);
      if (!closing && (name == "script" || name == "style" || name == "head" || name == "title")) {
        // Skip the element's content entirely.
        auto close = find_close_tag(html, name, end);
        auto gt = close == std::string_view::npos ? close : html.find('>', close);
        i = gt == std::string_view::npos ? html.size() : gt + 1;
        continue;
      }
      text.tag(name, closing);
      i = end + 1;
      continue;
    }
    if (c == '&') {
      std::size_t length = 0;
      if (unsigned cp = entity_at(html, i, length)) {
        text.code_point(cp);
        i += length;
        continue;
      }
    }
    text.character(c);
    ++i;
  }
  return text.finish();
}

}  // namespace cased
