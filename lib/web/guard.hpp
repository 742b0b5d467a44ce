// What keeps robots and other sites off the form: the CSRF token and the
// per-address rate limit.
//
// CSRF is a double-submit cookie bound by an HMAC: GET / sets a random
// nonce in a cookie (HttpOnly, SameSite=Strict) and puts into the page a
// token "T.MAC", MAC = HMAC-SHA256(secret, nonce "." T) with T the time it
// was issued. A POST is accepted only with both, the MAC matching the
// cookie's nonce, and T at most kMaxAge old. Another site can make a
// browser post, but cannot read our page for the token nor set our cookie
// (SameSite=Strict keeps it off cross-site requests besides); a token
// copied from one browser is worthless with another's cookie. The secret
// is a file next to the database (made once, mode 0600), so the forms of
// a page outlive a restart and nothing is kept per visitor.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace cased::web {

class CsrfKey {
 public:
  static constexpr std::int64_t kMaxAge = 3 * 3600;  // a long report takes a while to write
  static constexpr std::int64_t kSkew = 300;         // a token from the near future: another clock

  explicit CsrfKey(std::string secret) : secret_(std::move(secret)) {}
  // Reads the secret from `path`, or makes it there (32 random bytes, 0600).
  // Throws std::runtime_error naming the path when it can do neither.
  static CsrfKey from_file(const std::string& path);

  // A new cookie nonce (random, hex).
  static std::string nonce();
  std::string token(std::string_view nonce, std::int64_t now) const;

  enum class Check { ok, missing, forged, expired };
  Check check(std::string_view token, std::string_view nonce, std::int64_t now) const;

 private:
  std::string mac(std::string_view nonce, std::int64_t t) const;
  std::string secret_;
};

// HMAC-SHA256 as lower-case hex.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// `bytes` random bytes as lower-case hex, from the system's generator.
std::string random_token(std::size_t bytes);
// A receipt code for people: 20 characters of an alphabet without 0/O,
// 1/I/L, in groups of five (about 100 bits).
std::string receipt_code();

// At most `per_hour` uses per client in any hour: accepted reports (a slot
// is taken before the report is stored and given back when it was not, so
// only clients holding a slot are remembered), or submissions of any
// outcome. At most kMaxClients clients are remembered, so that many
// addresses cannot grow the map without bound. Beyond, what a new client
// gets is the limiter's `when_full`: `refuse` waits for the hour to pass
// (reports: filling the table takes 65536 stored reports), `admit` lets it
// through uncounted (submissions: 65536 refused forms, cheap from one IPv6
// /48, must not lock every new reporter out).
class RateLimiter {
 public:
  static constexpr std::size_t kMaxClients = 65536;
  enum class WhenFull { refuse, admit };

  explicit RateLimiter(int per_hour, WhenFull when_full = WhenFull::refuse)
      : per_hour_(per_hour), when_full_(when_full) {}
  bool take(const std::string& client, std::int64_t now);
  void give_back(const std::string& client);
  std::size_t clients();

 private:
  struct Window {
    std::int64_t start = 0;
    int used = 0;
  };
  void prune(std::int64_t now);
  int per_hour_;
  WhenFull when_full_;
  std::mutex mu_;
  std::map<std::string, Window> windows_;
  std::int64_t last_prune_ = 0;
};

// The client a limit counts: the peer's address, except that a loopback
// peer (the proxy in front) is taken at its word, the last address of
// X-Forwarded-For. IPv6 addresses count by their /64.
std::string client_key(std::string_view peer, std::string_view forwarded_for);

}  // namespace cased::web
