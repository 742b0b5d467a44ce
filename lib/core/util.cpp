#include "core/util.hpp"

#include "core/text.hpp"

#include <gnutls/crypto.h>

#include <array>
#include <chrono>
#include <cstring>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <stdexcept>

namespace cased {

namespace {

template <std::size_t N>
std::string hex_of(const std::array<unsigned char, N>& digest) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * N);
  for (unsigned char c : digest) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 0xf]);
  }
  return out;
}

// An incremental SHA-256: the bytes are fed a run at a time, never copied.
class Sha256 {
 public:
  Sha256() {
    if (gnutls_hash_init(&h_, GNUTLS_DIG_SHA256) != 0) throw std::runtime_error("sha256 failed");
  }
  ~Sha256() {
    if (h_) gnutls_hash_deinit(h_, nullptr);
  }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view bytes) {
    if (!bytes.empty() && gnutls_hash(h_, bytes.data(), bytes.size()) != 0) throw std::runtime_error("sha256 failed");
  }
  std::string hex() {
    std::array<unsigned char, 32> digest{};
    gnutls_hash_deinit(h_, digest.data());
    h_ = nullptr;
    return hex_of(digest);
  }

 private:
  gnutls_hash_hd_t h_ = nullptr;
};

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, 32> digest{};
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, bytes.data(), bytes.size(), digest.data()) != 0)
    throw std::runtime_error("sha256 failed");
  return hex_of(digest);
}

std::string sha512_hex(std::string_view bytes) {
  std::array<unsigned char, 64> digest{};
  if (gnutls_hash_fast(GNUTLS_DIG_SHA512, bytes.data(), bytes.size(), digest.data()) != 0)
    throw std::runtime_error("sha512 failed");
  return hex_of(digest);
}

std::string crlf_sha256_hex(std::string_view bytes) {
  // The hash of the bytes with CRLF for each bare LF, fed a run at a time:
  // no copy of the message, whatever its line ends.
  Sha256 h;
  std::size_t run_start = 0;
  for (std::size_t pos = 0; pos < bytes.size();) {
    const void* hit = std::memchr(bytes.data() + pos, '\n', bytes.size() - pos);
    if (!hit) break;
    std::size_t lf = static_cast<std::size_t>(static_cast<const char*>(hit) - bytes.data());
    if (lf == 0 || bytes[lf - 1] != '\r') {
      h.update(bytes.substr(run_start, lf - run_start));
      h.update("\r\n");
      run_start = lf + 1;
    }
    pos = lf + 1;
  }
  h.update(bytes.substr(run_start));
  return h.hex();
}

// Cuts to at most `w` code points of display_safe() text: a subject cannot
// move the cursor, change colours or reorder the terminal's line.
std::string clip(std::string_view s, std::size_t w) {
  std::string flat(s);
  for (char& c : flat)
    if (c == '\t' || c == '\r' || c == '\n') c = ' ';
  std::string safe = display_safe(flat);
  std::string out;
  std::size_t n = 0;
  for (std::size_t i = 0; i < safe.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(safe[i]);
    if ((c & 0xC0) != 0x80) {
      if (n == w) {
        if (w > 0) {
          // replace the last code point with an ellipsis
          while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
          if (!out.empty()) out.pop_back();
          out += "\u2026";
        }
        return out;
      }
      ++n;
    }
    out += static_cast<char>(c);
  }
  return out;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::int64_t now_unix() {
#ifdef CASED_TEST_HOOKS
  // A test hook: a fixed clock would backdate events and move rate-limit
  // windows, so release builds (without CASED_TEST_HOOKS) ignore it.
  if (const char* fixed = std::getenv("CASED_NOW"); fixed && *fixed) {
    std::int64_t t = 0;
    if (parse_rfc3339(fixed, t)) return t;
    char* end = nullptr;
    long long v = std::strtoll(fixed, &end, 10);
    if (end && *end == '\0') return v;
  }
#endif
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::string format_rfc3339(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool parse_rfc3339(std::string_view text, std::int64_t& out) {
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  std::string str(text);
  char tail = 0;
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%c", &y, &mo, &d, &h, &mi, &s, &tail) == 6) {
  } else if (str.size() == 10 && std::sscanf(str.c_str(), "%4d-%2d-%2d%c", &y, &mo, &d, &tail) == 3) {
  } else {
    return false;
  }
  if (h > 23 || mi > 59 || s > 60) return false;
  // A real calendar date: no 2026-02-30 rolled over into March.
  if (!std::chrono::year_month_day{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                                   std::chrono::day{static_cast<unsigned>(d)}}
           .ok())
    return false;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  out = static_cast<std::int64_t>(timegm(&tm));
  return true;
}

}  // namespace cased
