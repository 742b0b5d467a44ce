#include "web/guard.hpp"
#include "core/unique_fd.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <fmt/format.h>
#include <stdexcept>
#include <system_error>

namespace cased::web {
namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (gnutls_rnd(GNUTLS_RND_KEY, out.data(), n) != 0) throw std::runtime_error("no random bytes from GnuTLS");
  return out;
}

bool same(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// A file descriptor closed on every way out.
}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  std::array<unsigned char, 32> out{};
  if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key.data(), key.size(), data.data(), data.size(), out.data()) != 0)
    throw std::runtime_error("HMAC-SHA256 failed");
  return hex(out.data(), out.size());
}

std::string random_token(std::size_t bytes) {
  std::string raw = random_bytes(bytes);
  return hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

std::string receipt_code() {
  static constexpr std::string_view alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";  // 31: no 0/O, 1/I/L
  std::string out;
  while (out.size() < 23) {
    for (unsigned char b : random_bytes(32)) {
      if (b >= 248) continue;  // 248 = 8 * 31: every letter equally likely
      if (out.size() % 6 == 5) out += '-';
      out += alphabet[b % 31];
      if (out.size() == 23) break;
    }
  }
  return out;
}

CsrfKey CsrfKey::from_file(const std::string& path) {
  UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (in) {
    std::array<char, 64> buf{};
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n >= 32) return CsrfKey(std::string(buf.data(), static_cast<std::size_t>(n)));
    throw std::runtime_error(fmt::format("{}: the web form's secret is too short; remove the file", path));
  }
  if (errno != ENOENT) throw std::system_error(errno, std::generic_category(), path);
  std::string secret = random_bytes(32);
  UniqueFd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!out) throw std::system_error(errno, std::generic_category(), path);
  if (::write(out.get(), secret.data(), secret.size()) != static_cast<ssize_t>(secret.size()) || ::fsync(out.get()) != 0)
    throw std::system_error(errno, std::generic_category(), path);
  return CsrfKey(std::move(secret));
}

std::string CsrfKey::nonce() { return random_token(16); }

std::string CsrfKey::mac(std::string_view nonce, std::int64_t t) const {
  return hmac_sha256_hex(secret_, fmt::format("{}.{}", nonce, t));
}

std::string CsrfKey::token(std::string_view nonce, std::int64_t now) const {
  return fmt::format("{}.{}", now, mac(nonce, now));
}

CsrfKey::Check CsrfKey::check(std::string_view token, std::string_view nonce, std::int64_t now) const {
  if (token.empty() || nonce.empty()) return Check::missing;
  auto dot = token.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 12 || nonce.size() != 32) return Check::forged;
  std::int64_t t = 0;
  for (char c : token.substr(0, dot)) {
    if (c < '0' || c > '9') return Check::forged;
    t = t * 10 + (c - '0');
  }
  if (!same(token.substr(dot + 1), mac(nonce, t))) return Check::forged;
  if (t > now + kSkew || now - t > kMaxAge) return Check::expired;
  return Check::ok;
}

bool RateLimiter::take(const std::string& client, std::int64_t now) {
  std::lock_guard lock(mu_);
  prune(now);
  auto it = windows_.find(client);
  if (it == windows_.end()) {
    if (windows_.size() >= kMaxClients) return when_full_ == WhenFull::admit;  // pruned at most once a minute (above)
    it = windows_.emplace(client, Window{}).first;
  }
  Window& w = it->second;
  if (w.used == 0 || now - w.start >= 3600) w = {now, 0};
  if (w.used >= per_hour_) return false;
  ++w.used;
  return true;
}

void RateLimiter::give_back(const std::string& client) {
  std::lock_guard lock(mu_);
  auto it = windows_.find(client);
  if (it == windows_.end()) return;
  if (it->second.used > 0) --it->second.used;
  if (it->second.used == 0) windows_.erase(it);  // a window with nothing used starts again at the next take
}

std::size_t RateLimiter::clients() {
  std::lock_guard lock(mu_);
  return windows_.size();
}

// Windows an hour old are dropped, at most once a minute: the map holds the
// clients of the last hour, not every address ever seen.
void RateLimiter::prune(std::int64_t now) {
  if (now - last_prune_ < 60) return;
  last_prune_ = now;
  std::erase_if(windows_, [now](const auto& kv) { return now - kv.second.start >= 3600; });
}

std::string client_key(std::string_view peer, std::string_view forwarded_for) {
  std::string_view addr = peer;
  bool loopback = peer == "::1" || peer.starts_with("127.") || peer.starts_with("::ffff:127.");
  if (loopback && !forwarded_for.empty()) {
    auto comma = forwarded_for.rfind(',');
    addr = comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1);
    while (!addr.empty() && addr.front() == ' ') addr.remove_prefix(1);
    while (!addr.empty() && addr.back() == ' ') addr.remove_suffix(1);
    if (addr.empty() || addr.size() > 64) addr = peer;
  }
  // An IPv6 address counts by its /64, the block one host is given.
  std::string text(addr);
  in6_addr a6{};
  if (text.find(':') == std::string::npos || ::inet_pton(AF_INET6, text.c_str(), &a6) != 1) return text;
  if (IN6_IS_ADDR_V4MAPPED(&a6)) return text;
  for (int i = 8; i < 16; ++i) a6.s6_addr[i] = 0;
  std::array<char, INET6_ADDRSTRLEN> buf{};
  ::inet_ntop(AF_INET6, &a6, buf.data(), buf.size());
  return std::string(buf.data()) + "/64";
}

}  // namespace cased::web
