// The bounded HTTPS GET (https_get.hpp) on cpp-httplib with OpenSSL.
//
// cpp-httplib (0.11.4) verifies the chain with SSL_get_verify_result after
// the handshake and then matches the host against the certificate's
// subjectAltName itself, falling back to its common name. Host checking is
// not left to that code alone: the host (or the IP address) is also set
// in the context's X509_VERIFY_PARAM, so OpenSSL's own chain verification
// fails with a host mismatch (RFC 6125 matching, no partial wildcards, no
// common-name fallback when the certificate has DNS names). Redirects are
// followed here, not by the library, so that each hop is checked the same.
#include "net/https_get.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <httplib.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "core/text.hpp"
#include "core/util.hpp"

namespace cased::net {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxUrl = 2048;

std::string shown(std::string_view url) { return display_safe(clip(url, 200)); }

bool valid_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t start = 0;
  while (start <= host.size()) {
    std::size_t dot = host.find('.', start);
    std::string_view label = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

// host[:port] or [v6][:port] into `u`; the reason it is bad otherwise.
std::optional<std::string> parse_authority(std::string_view auth, HttpsUrl& u) {
  if (auth.find('@') != std::string_view::npos) return "user info (user@host) is not accepted";
  std::string_view host = auth, port;
  if (auth.starts_with("[")) {
    std::size_t close = auth.find(']');
    if (close == std::string_view::npos) return "an IPv6 address without its ']'";
    host = auth.substr(1, close - 1);
    std::string_view after = auth.substr(close + 1);
    if (!after.empty() && !after.starts_with(":")) return "text after the IPv6 address";
    if (after == ":") return "an empty port";
    if (!after.empty()) port = after.substr(1);
    in6_addr a6{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1) return "a bad IPv6 address";
    u.ip = true;
  } else if (std::size_t colon = auth.rfind(':'); colon != std::string_view::npos) {
    host = auth.substr(0, colon);
    port = auth.substr(colon + 1);
    if (port.empty()) return "an empty port";
  }
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return "a bad port";
    u.port = std::stoi(std::string(port));
    if (u.port < 1 || u.port > 65535) return "a bad port";
  }
  if (host.empty()) return "an empty host";
  u.host = to_lower(host);
  if (!u.ip) {
    in_addr a4{};
    bool numeric = std::all_of(u.host.begin(), u.host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    if (numeric && inet_pton(AF_INET, u.host.c_str(), &a4) != 1) return "a bad IPv4 address";
    if (numeric) u.ip = true;
    else if (!valid_dns_name(u.host)) return "an empty or bad host name";
  }
  return std::nullopt;
}

// The path and query of a URL's rest (from its first '/' or '?'), without the fragment.
std::string target_of(std::string_view rest) {
  rest = rest.substr(0, rest.find('#'));
  if (rest.empty()) return "/";
  if (rest.front() == '?') return "/" + std::string(rest);
  return std::string(rest);
}

// Unblocks a request stuck past the overall deadline (a server that
// trickles header lines, each within the read timeout) by shutting down
// its socket from a second thread.
class Watchdog {
 public:
  Watchdog(httplib::SSLClient& client, Clock::time_point deadline)
      : thread_([this, &client, deadline] {
          std::unique_lock lock(mutex_);
          if (cv_.wait_until(lock, deadline, [this] { return done_; })) return;
          fired_ = true;
          lock.unlock();
          client.stop();
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  bool fired() const { return fired_; }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<bool> fired_{false};
  std::thread thread_;  // last: starts once the rest is built
};

struct AddrInfoFree {
  void operator()(addrinfo* a) const { freeaddrinfo(a); }
};

Status resolvable(const HttpsUrl& u) {
  if (u.ip) return ok_status();
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(u.host.c_str(), nullptr, &hints, &found);
  std::unique_ptr<addrinfo, AddrInfoFree> owner(found);
  if (rc != 0)
    return Error{Errc::unavailable, fmt::format("fetching {}: DNS: cannot resolve {} ({})", shown(u.text()), u.host,
                                                gai_strerror(rc))};
  return ok_status();
}

// What one request brought back.
struct Exchange {
  int status = 0;
  std::string location;
  std::string body;
  bool too_large = false;
  std::optional<std::uint64_t> declared;  // a Content-Length over the limit
  bool past_deadline = false;
};

void configure(httplib::SSLClient& cli, const HttpsUrl& u, const HttpsGetOptions& o) {
  SSL_CTX* ctx = cli.ssl_context();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (u.ip) X509_VERIFY_PARAM_set1_ip_asc(param, u.host.c_str());
  else X509_VERIFY_PARAM_set1_host(param, u.host.c_str(), u.host.size());
  if (!o.ca_file.empty()) cli.set_ca_cert_path(o.ca_file);
  cli.enable_server_certificate_verification(true);
  cli.set_follow_location(false);
  cli.set_keep_alive(false);
  cli.set_compress(false);
  cli.set_decompress(false);
  cli.set_url_encode(false);
  cli.set_connection_timeout(o.connect_timeout);
  cli.set_read_timeout(o.read_timeout);
  cli.set_write_timeout(o.read_timeout);
}

std::string seconds(std::chrono::seconds s) { return fmt::format("{} s", s.count()); }

// Why a request that brought no usable response failed.
Error transport_error(httplib::SSLClient& cli, httplib::Error err, const HttpsUrl& u, const HttpsGetOptions& o,
                      Clock::duration took, bool deadline_passed) {
  std::string at = fmt::format("fetching {}: ", shown(u.text()));
  auto timeout = [&](std::string what) { return Error{Errc::unavailable, at + "timeout: " + what}; };
  if (deadline_passed) return timeout(fmt::format("no complete answer within {}", seconds(o.deadline)));
  bool connect_slow = took + std::chrono::milliseconds(500) >= o.connect_timeout;
  bool read_slow = took + std::chrono::milliseconds(500) >= o.read_timeout;
  switch (err) {
    case httplib::Error::ConnectionTimeout:
      return timeout(fmt::format("no connection to {}:{} within {}", u.host, u.port, seconds(o.connect_timeout)));
    case httplib::Error::Connection:
      if (connect_slow)
        return timeout(fmt::format("no connection to {}:{} within {}", u.host, u.port, seconds(o.connect_timeout)));
      return Error{Errc::unavailable, at + fmt::format("connect: cannot connect to {}:{}", u.host, u.port)};
    case httplib::Error::SSLConnection:
      if (connect_slow) return timeout(fmt::format("no TLS handshake within {}", seconds(o.connect_timeout)));
      return Error{Errc::refused, at + "TLS: the handshake failed (no common protocol, or the server closed)"};
    case httplib::Error::SSLLoadingCerts:
      return Error{Errc::invalid, at + fmt::format("TLS: cannot load the CA file {}", display_safe(o.ca_file))};
    case httplib::Error::SSLServerVerification: {
      long v = cli.get_openssl_verify_result();
      if (v != X509_V_OK)
        return Error{Errc::refused, at + fmt::format("TLS: the certificate is not accepted ({})",
                                                     X509_verify_cert_error_string(v))};
      return Error{Errc::refused, at + fmt::format("TLS: the certificate does not name {}", u.host)};
    }
    case httplib::Error::Read:
      if (read_slow) return timeout(fmt::format("no answer within {}", seconds(o.read_timeout)));
      return Error{Errc::unavailable, at + "read: the connection broke before a complete answer"};
    default:
      return Error{Errc::unavailable, at + "failed: " + httplib::to_string(err)};
  }
}

Error status_error(const HttpsUrl& u, int status) {
  std::string text = fmt::format("fetching {}: HTTP status {}", shown(u.text()), status);
  if (status == 404 || status == 410) return Error{Errc::not_found, text + " (not found)"};
  if (status >= 500) return Error{Errc::unavailable, text + " (a server error)"};
  return Error{Errc::refused, text};
}

Result<Exchange> exchange(const HttpsUrl& u, const HttpsGetOptions& o, Clock::time_point deadline) {
  if (auto st = resolvable(u); !st) return st.error();
  httplib::SSLClient cli(u.host, u.port);
  if (!cli.is_valid()) return Error{Errc::internal, "TLS: cannot set up OpenSSL"};
  configure(cli, u, o);
  httplib::Headers headers{{"User-Agent", std::string("cased/") + CASED_VERSION},
                           {"Accept-Encoding", "identity"},
                           {"Accept", "*/*"}};
  Exchange ex;
  auto on_response = [&](const httplib::Response& r) {
    ex.status = r.status;
    if (r.status / 100 == 3) ex.location = r.get_header_value("Location");
    if (r.status / 100 != 2) return false;
    if (r.has_header("Content-Length")) {
      std::uint64_t n = std::strtoull(r.get_header_value("Content-Length").c_str(), nullptr, 10);
      if (n > o.max_bytes) {
        ex.declared = n;
        ex.too_large = true;
        return false;
      }
    }
    return true;
  };
  auto on_body = [&](const char* data, std::size_t len) {
    if (len > o.max_bytes - ex.body.size()) {
      ex.too_large = true;
      return false;
    }
    if (Clock::now() >= deadline) {
      ex.past_deadline = true;
      return false;
    }
    ex.body.append(data, len);
    return true;
  };
  auto start = Clock::now();
  bool fired = false;
  httplib::Error err = httplib::Error::Success;
  {
    Watchdog dog(cli, deadline);
    httplib::Result res = cli.Get(u.target, headers, on_response, on_body);
    fired = dog.fired();
    if (!res) err = res.error();
  }
  if (err == httplib::Error::Success) return ex;
  if (ex.too_large || (ex.status != 0 && ex.status / 100 != 2)) return ex;
  return transport_error(cli, err, u, o, Clock::now() - start, fired || ex.past_deadline);
}

}  // namespace

std::string HttpsUrl::text() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == 443 ? fmt::format("https://{}{}", h, target) : fmt::format("https://{}:{}{}", h, port, target);
}

Result<HttpsUrl> parse_https_url(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return Error{Errc::invalid, fmt::format("URL {} refused: {}", shown(url), why)};
  };
  if (url.size() > kMaxUrl) return bad("longer than 2048 bytes");
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return bad("a space, control or non-ASCII character (write it percent-encoded)");
  std::size_t sep = url.find("://");
  std::string scheme = sep == std::string_view::npos ? std::string() : to_lower(url.substr(0, sep));
  if (scheme == "http") return bad("http:// is not encrypted: only https:// URLs are fetched");
  if (scheme != "https") return bad("only https:// URLs are fetched");
  std::string_view rest = url.substr(sep + 3);
  std::size_t end = rest.find_first_of("/?#");
  HttpsUrl u;
  if (auto why = parse_authority(rest.substr(0, end), u)) return bad(*why);
  u.target = end == std::string_view::npos ? "/" : target_of(rest.substr(end));
  return u;
}

Result<HttpsUrl> redirect_target(const HttpsUrl& from, std::string_view location) {
  std::string at = fmt::format("{} redirects to {}", shown(from.text()), shown(location));
  if (location.empty()) return Error{Errc::refused, at + ": an empty Location"};
  std::size_t mark = location.find_first_of(":/?#");
  Result<HttpsUrl> next = Error{Errc::invalid, ""};
  if (mark != std::string_view::npos && location[mark] == ':') {
    std::string scheme = to_lower(location.substr(0, mark));
    if (scheme != "https") return Error{Errc::refused, at + ": only https:// is followed"};
    next = parse_https_url(location);
  } else if (location.starts_with("//")) {
    next = parse_https_url("https:" + std::string(location));
  } else {
    std::string target(location);
    if (!location.starts_with("/")) {
      std::string path = from.target.substr(0, from.target.find('?'));
      target = path.substr(0, path.rfind('/') + 1) + target;
    }
    HttpsUrl u = from;
    next = parse_https_url(fmt::format("https://x{}", target_of(target)));
    if (next) u.target = next->target;
    if (next) next = u;
  }
  if (!next) return Error{Errc::refused, at + ": " + next.error().message};
  return next;
}

Result<HttpsBody> https_get(std::string_view url, const HttpsGetOptions& o) {
  auto first = parse_https_url(url);
  if (!first) return first.error();
  if (!o.ca_file.empty() && access(o.ca_file.c_str(), R_OK) != 0)
    return Error{Errc::invalid, fmt::format("the CA file {} cannot be read", display_safe(o.ca_file))};
  auto deadline = Clock::now() + o.deadline;
  HttpsUrl at = *first;
  for (int hop = 0;; ++hop) {
    auto ex = exchange(at, o, deadline);
    if (!ex) return ex.error();
    std::string where = fmt::format("fetching {}: ", shown(at.text()));
    if (ex->too_large) {
      std::string size = ex->declared ? fmt::format(" (it declares {} bytes)", *ex->declared) : std::string();
      return Error{Errc::refused, where + fmt::format("too large: more than {} bytes{}; not read", o.max_bytes, size)};
    }
    if (ex->status / 100 == 3 && ex->status != 304 && ex->status != 300) {
      if (hop >= o.max_redirects)
        return Error{Errc::refused, where + fmt::format("more than {} redirects", o.max_redirects)};
      auto next = redirect_target(at, ex->location);
      if (!next) return next.error();
      at = *next;
      continue;
    }
    if (ex->status / 100 != 2) return status_error(at, ex->status);
    return HttpsBody{std::move(ex->body), at.text(), ex->status};
  }
}

}  // namespace cased::net
