// A bounded HTTPS GET for what the vendor book fetches (a vendor's
// security.txt, its OpenPGP key). The server is not trusted: https only,
// its certificate verified against the system's trust store (or a given CA
// file) and naming the host, a size limit counted on the bytes received
// (a Content-Length is not believed), connect and read timeouts and an
// overall deadline, at most a few redirects and each to https again, no
// cookies, no proxy, no compression.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace cased::net {

// An https URL taken apart. The host is lower-case (a name, an IPv4
// address, or an IPv6 address without its brackets).
struct HttpsUrl {
  std::string host;
  int port = 443;
  std::string target = "/";  // path and query, as written; the fragment dropped
  bool ip = false;           // the host is an IP address literal

  // https://host[:port]/target, brackets around an IPv6 address.
  std::string text() const;
};

// Checks and takes apart an https URL: Errc::invalid, naming the URL, for
// http:// (refused: not encrypted) and any other scheme, user info
// (user@host), an empty or bad host, a bad port, a space, control or
// non-ASCII character (write it percent-encoded), or one over 2048 bytes.
Result<HttpsUrl> parse_https_url(std::string_view url);

// Where a redirect's Location leads from `from`: an absolute https URL, a
// scheme-relative one (//host/path), an absolute path or a relative one.
// Errc::refused for http:// and any scheme but https.
Result<HttpsUrl> redirect_target(const HttpsUrl& from, std::string_view location);

struct HttpsGetOptions {
  std::string ca_file;  // PEM CAs trusted instead of the system store; "" = the system store
  std::size_t max_bytes = 64 * 1024;
  std::chrono::seconds connect_timeout{10};  // connect, and the TLS handshake
  std::chrono::seconds read_timeout{10};     // each read
  std::chrono::seconds deadline{30};         // the whole fetch, redirects included
  int max_redirects = 3;
};

struct HttpsBody {
  std::string body;
  std::string url;  // where it came from, after any redirects
  int status = 0;
};

// Fetches `url`. The error says what failed, naming the URL: the URL
// (Errc::invalid), DNS or connect or a timeout (Errc::unavailable), TLS
// and the certificate (Errc::refused), a status but 2xx (Errc::not_found
// for 404 and 410, Errc::unavailable for 5xx, else Errc::refused), a body
// over max_bytes or a redirect to http or too many (Errc::refused).
Result<HttpsBody> https_get(std::string_view url, const HttpsGetOptions& options);

}  // namespace cased::net
