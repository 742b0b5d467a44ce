// The URL checks of the bounded HTTPS GET (lib/net/https_get.cpp): what is
// fetched at all, and where a redirect may lead. The fetch itself runs
// against a real HTTPS server in tests/e2e/test_vendor_fetch.py.
#include <catch2/catch.hpp>

#include "net/https_get.hpp"

using cased::Errc;
using cased::net::HttpsGetOptions;
using cased::net::HttpsUrl;
using cased::net::https_get;
using cased::net::parse_https_url;
using cased::net::redirect_target;

namespace {

HttpsUrl url(std::string_view text) {
  auto u = parse_https_url(text);
  INFO(text);
  REQUIRE(u.ok());
  return *u;
}

std::string refused(std::string_view text) {
  auto u = parse_https_url(text);
  INFO(text);
  REQUIRE_FALSE(u.ok());
  CHECK(u.error().code == Errc::invalid);
  return u.error().message;
}

}  // namespace

TEST_CASE("an https URL is taken apart", "[https_get]") {
  struct Case {
    const char* text;
    const char* host;
    int port;
    const char* target;
    bool ip;
    const char* shown;
  };
  const Case cases[] = {
      {"https://Acme.Example/.well-known/security.txt", "acme.example", 443, "/.well-known/security.txt", false,
       "https://acme.example/.well-known/security.txt"},
      {"HTTPS://127.0.0.1:8443?x=1#frag", "127.0.0.1", 8443, "/?x=1", true, "https://127.0.0.1:8443/?x=1"},
      {"https://[::1]:4443/key.asc", "::1", 4443, "/key.asc", true, "https://[::1]:4443/key.asc"},
  };
  for (const auto& c : cases) {
    HttpsUrl u = url(c.text);
    CHECK(u.host == c.host);
    CHECK(u.port == c.port);
    CHECK(u.target == c.target);
    CHECK(u.ip == c.ip);
    CHECK(u.text() == c.shown);
  }
  CHECK(url("https://acme.example").target == "/");
  CHECK(url("https://a-b.example/p/a%20b").target == "/p/a%20b");
}

TEST_CASE("anything but a plain https URL is refused, naming it", "[https_get]") {
  std::string http = refused("http://acme.example/.well-known/security.txt");
  CHECK(http.find("http://acme.example/.well-known/security.txt") != std::string::npos);
  CHECK(http.find("not encrypted") != std::string::npos);
  CHECK(refused("HTTP://acme.example/").find("not encrypted") != std::string::npos);
  for (auto u : {"ftp://acme.example/x", "file:///etc/passwd", "acme.example/security.txt", "//acme.example/x",
                 "javascript:alert(1)", ""})
    CHECK(refused(u).find("only https://") != std::string::npos);
  CHECK(refused("https://user:pw@acme.example/").find("user info") != std::string::npos);
  CHECK(refused("https://evil.example@acme.example/").find("user info") != std::string::npos);
  for (auto u : {"https:///path", "https://-acme.example/", "https://acme..example/", "https://acme_x.example/",
                 "https://a.example./"})
    CHECK(refused(u).find("host") != std::string::npos);
  for (auto u : {"https://acme.example:/", "https://acme.example:0/", "https://acme.example:65536/",
                 "https://acme.example:443x/", "https://[::1]:/"})
    CHECK(refused(u).find("port") != std::string::npos);
  CHECK(refused("https://999.1.1.1/").find("IPv4") != std::string::npos);
  CHECK(refused("https://[::g]/").find("IPv6") != std::string::npos);
  CHECK(refused("https://[::1/").find("IPv6") != std::string::npos);
  for (auto u : {"https://acme.example/a b", "https://acme.example/\r\nHost: x", "https://acme.example/\x7f",
                 "https://acme.example/caf\xc3\xa9"})
    CHECK(refused(u).find("percent-encoded") != std::string::npos);
  CHECK(refused("https://acme.example/" + std::string(2100, 'a')).find("2048") != std::string::npos);
}

TEST_CASE("a redirect is followed only to https", "[https_get]") {
  HttpsUrl from = url("https://acme.example:8443/dir/security.txt?v=1");
  CHECK(redirect_target(from, "https://cdn.example/st.txt")->text() == "https://cdn.example/st.txt");
  CHECK(redirect_target(from, "//cdn.example/st.txt")->text() == "https://cdn.example/st.txt");
  CHECK(redirect_target(from, "/other.txt")->text() == "https://acme.example:8443/other.txt");
  CHECK(redirect_target(from, "new.txt")->text() == "https://acme.example:8443/dir/new.txt");
  for (auto loc : {"http://acme.example/st.txt", "HTTP://acme.example/", "ftp://acme.example/", "javascript:x",
                   "data:text/plain,Contact"}) {
    auto r = redirect_target(from, loc);
    INFO(loc);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::refused);
    CHECK(r.error().message.find("only https:// is followed") != std::string::npos);
  }
  CHECK_FALSE(redirect_target(from, "").ok());
  CHECK_FALSE(redirect_target(from, "https://user@acme.example/").ok());
  CHECK_FALSE(redirect_target(from, "/a b").ok());
}

TEST_CASE("https_get refuses before connecting: a bad URL, an unreadable CA file", "[https_get]") {
  HttpsGetOptions o;
  auto a = https_get("http://127.0.0.1:1/", o);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().code == Errc::invalid);
  o.ca_file = "/nonexistent/ca.pem";
  auto b = https_get("https://127.0.0.1:1/", o);
  REQUIRE_FALSE(b.ok());
  CHECK(b.error().message.find("/nonexistent/ca.pem") != std::string::npos);
}
