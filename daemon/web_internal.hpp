// What the web server's files share (web_server.cpp, web_report.cpp).
#pragma once

#include <httplib.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "crypto/crypto.hpp"
#include "web/form.hpp"
#include "web/guard.hpp"
#include "web_server.hpp"

namespace cased {

struct WebServer::Impl {
  Impl(const Config& c, IngestWriter& w, std::function<void(const IngestResult&)> s);

  const Config& config;
  const WebConfig& web;
  IngestWriter& writer;
  std::function<void(const IngestResult&)> stored;
  web::CsrfKey csrf;
  web::RateLimiter rate;      // accepted reports per client and hour
  web::RateLimiter attempts;  // every checked submission, refused ones too
  web::Limits limits;
  bool secure_cookie = false;
  std::vector<std::unique_ptr<httplib::Server>> servers;
  std::vector<std::thread> threads;
  std::mutex securitytxt_mu;
  std::string securitytxt;        // the signed copy served, made again every hour
  std::int64_t securitytxt_made = 0;
};

inline constexpr const char* kCsrfCookie = "cased_csrf";

// Submissions a client may send in an hour, refused ones included: each
// costs a multipart parse and perhaps a key parse, so a client that sends
// forms the checks refuse (which give their report slot back) is bounded
// too, while a person correcting a form a few times is not.
inline int attempts_per_hour(int rate_per_hour) { return 5 * rate_per_hour + 20; }

// One GPGME context per server thread, made on first use; nullptr when gpg.home cannot be used.
Crypto* web_crypto(const Config& config);

// The cookie's value in the request, "" without one.
std::string cookie_value(const httplib::Request& req, std::string_view name);
// The CSRF nonce of the request's cookie, or a new one (then set on the response).
std::string csrf_nonce(WebServer::Impl& s, const httplib::Request& req, httplib::Response& res);
// A page in HTML with `status`.
void html(httplib::Response& res, int status, std::string body);

// GET / (also with errors and typed values again, from POST /report).
void serve_form(WebServer::Impl& s, const httplib::Request& req, httplib::Response& res, int status = 200,
                const web::Report* typed = nullptr, const web::FieldErrors* errors = nullptr,
                std::string notice = "");
// POST /report.
void handle_report(WebServer::Impl& s, const httplib::Request& req, httplib::Response& res);

}  // namespace cased
