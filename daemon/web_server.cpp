#include "web_server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "checks.hpp"
#include "core/util.hpp"
#include "cvd/securitytxt.hpp"
#include "web/page.hpp"
#include "web_connections.hpp"
#include "web_internal.hpp"

namespace cased {
namespace {

constexpr std::size_t kThreads = 16;   // per web.listen address
constexpr std::size_t kPerClient = 8;  // connections at once from one client

// The alias's own key: the signing key (gpg.signing_key, or the secret key
// naming the alias).
Result<KeyInfo> alias_key(const Config& config, Crypto& crypto) {
  return crypto.signing_key(config.gpg.signing_key, config.case_.alias);
}

void text(httplib::Response& res, int status, std::string body, const char* type = "text/plain; charset=utf-8") {
  res.status = status;
  res.set_content(std::move(body), type);
}

// The signed security.txt, made at most once an hour (a signature asks gpg-agent).
void serve_securitytxt(WebServer::Impl& s, httplib::Response& res) {
  std::int64_t now = now_unix();
  std::lock_guard lock(s.securitytxt_mu);
  if (s.securitytxt.empty() || now - s.securitytxt_made >= 3600) {
    Crypto* crypto = web_crypto(s.config);
    if (securitytxt_expires(s.config, now) <= now || !crypto) return text(res, 503, "security.txt is not available\n");
    auto key = alias_key(s.config, *crypto);
    auto signed_text = key ? crypto->clearsign(render_securitytxt(s.config, now), key->fingerprint)
                           : Result<std::string>(key.error());
    if (!signed_text) {
      spdlog::warn("web: security.txt not signed: {}", signed_text.error().message);
      return text(res, 503, "security.txt is not available\n");
    }
    s.securitytxt = std::move(*signed_text);
    s.securitytxt_made = now;
  }
  text(res, 200, s.securitytxt);
}

// Web Key Directory, direct method: the alias's key, binary, under the
// z-base-32 SHA-1 of its local part. Nobody else's key is served.
void serve_wkd(WebServer::Impl& s, const httplib::Request& req, httplib::Response& res) {
  const std::string& alias = s.config.case_.alias;
  std::string local = alias.substr(0, alias.rfind('@'));
  if (req.matches[1] != wkd_hash(local)) return text(res, 404, "no key here\n");
  Crypto* crypto = web_crypto(s.config);
  auto key = crypto ? alias_key(s.config, *crypto) : Result<KeyInfo>(Error{Errc::unavailable, "no gpg.home"});
  auto bytes = key ? crypto->export_key(key->fingerprint, false) : Result<std::string>(key.error());
  if (!bytes) {
    spdlog::warn("web: WKD key not exported: {}", bytes.error().message);
    return text(res, 503, "the key is not available\n");
  }
  text(res, 200, std::move(*bytes), "application/octet-stream");
}

void routes(WebServer::Impl& s, httplib::Server& svr) {
  svr.set_default_headers([] {
    httplib::Headers h;
    for (auto& [k, v] : web::security_headers()) h.emplace(k, v);
    return h;
  }());
  svr.set_payload_max_length(s.web.max_upload);
  svr.set_read_timeout(std::chrono::seconds(20));  // between two reads, not for the whole body
  svr.set_write_timeout(std::chrono::seconds(20));
  svr.set_keep_alive_timeout(5);
  svr.set_keep_alive_max_count(100);
  svr.Get("/", [&s](const httplib::Request& req, httplib::Response& res) { serve_form(s, req, res); });
  svr.Get("/form.css", [](const httplib::Request&, httplib::Response& res) {
    text(res, 200, std::string(web::style_sheet()), "text/css; charset=utf-8");
  });
  svr.Post("/report", [&s](const httplib::Request& req, httplib::Response& res) { handle_report(s, req, res); });
  svr.Get("/.well-known/security.txt",
          [&s](const httplib::Request&, httplib::Response& res) { serve_securitytxt(s, res); });
  svr.Get("/.well-known/openpgpkey/policy",
          [](const httplib::Request&, httplib::Response& res) { text(res, 200, ""); });
  svr.Get(R"(/\.well-known/openpgpkey/hu/([a-z0-9]{32}))",
          [&s](const httplib::Request& req, httplib::Response& res) { serve_wkd(s, req, res); });
  // Refusals httplib makes itself (400, 404, 413...) get a short page.
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const char* what = res.status == 413   ? "The report is larger than the form accepts."
                       : res.status == 404 ? "There is no such page."
                       : res.status == 400 ? "The request could not be read."
                                           : "The request was refused.";
    html(res, res.status, web::message_page(fmt::format("Error {}", res.status), what));
  });
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    html(res, 500, web::message_page("Error 500", "Something went wrong; nothing was stored."));
  });
}

std::unique_ptr<httplib::Server> make_server(const WebConfig& web) {
  if (web.tls_cert.empty()) return std::make_unique<httplib::Server>();
  auto svr = std::make_unique<httplib::SSLServer>(web.tls_cert.c_str(), web.tls_key.c_str());
  if (!svr->is_valid())
    throw std::runtime_error(fmt::format("web.tls_cert {} / web.tls_key {}: cannot be used", web.tls_cert, web.tls_key));
  return svr;
}

}  // namespace

Crypto* web_crypto(const Config& config) {
  thread_local std::unique_ptr<Crypto> crypto;
  thread_local bool tried = false;
  if (!tried) {
    tried = true;
    try {
      crypto = std::make_unique<Crypto>(config.gpg.home, std::chrono::seconds(config.gpg.timeout_seconds));
    } catch (const std::exception& e) {
      spdlog::warn("web: PGP is off on this thread: {}", e.what());
    }
  }
  return crypto.get();
}

std::string cookie_value(const httplib::Request& req, std::string_view name) {
  const std::string header = req.get_header_value("Cookie");
  std::string_view all = header;
  while (!all.empty()) {
    auto semi = all.find(';');
    std::string_view one = all.substr(0, semi);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    if (one.size() > name.size() && one.substr(0, name.size()) == name && one[name.size()] == '=')
      return std::string(one.substr(name.size() + 1));
    if (semi == std::string_view::npos) break;
    all.remove_prefix(semi + 1);
  }
  return "";
}

std::string csrf_nonce(WebServer::Impl& s, const httplib::Request& req, httplib::Response& res) {
  std::string nonce = cookie_value(req, kCsrfCookie);
  bool good = nonce.size() == 32 && nonce.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (good) return nonce;  // other tabs keep their forms
  nonce = web::CsrfKey::nonce();
  res.set_header("Set-Cookie", fmt::format("{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}", kCsrfCookie, nonce,
                                           web::CsrfKey::kMaxAge, s.secure_cookie ? "; Secure" : ""));
  return nonce;
}

void html(httplib::Response& res, int status, std::string body) {
  res.status = status;
  res.set_content(std::move(body), "text/html; charset=utf-8");
}

void serve_form(WebServer::Impl& s, const httplib::Request& req, httplib::Response& res, int status,
                const web::Report* typed, const web::FieldErrors* errors, std::string notice) {
  std::string nonce = csrf_nonce(s, req, res);
  web::FormPage page{s.config.case_.alias, s.csrf.token(nonce, now_unix()), s.web.max_upload, s.limits.max_files,
                     typed, errors, std::move(notice)};
  html(res, status, web::form_page(page));
}

WebServer::Impl::Impl(const Config& c, IngestWriter& w, std::function<void(const IngestResult&)> s)
    : config(c),
      web(*c.web),
      writer(w),
      stored(std::move(s)),
      csrf(web::CsrfKey::from_file(c.case_.database + ".web-secret")),
      rate(c.web->rate_per_hour),
      attempts(attempts_per_hour(c.web->rate_per_hour), web::RateLimiter::WhenFull::admit),
      secure_cookie(!c.web->tls_cert.empty() || c.web->public_url.starts_with("https://")) {}

WebServer::WebServer(const Config& config, IngestWriter& writer, std::function<void(const IngestResult&)> stored)
    : impl_(std::make_unique<Impl>(config, writer, std::move(stored))) {
  for (const auto& spec : impl_->web.listen) {
    auto a = parse_listen(spec);
    if (!a || a->unix_socket) throw std::runtime_error(fmt::format("web.listen: {}: not a host:port", spec));
    auto svr = make_server(impl_->web);
    routes(*impl_, *svr);
    std::string host = a->endpoint.address().to_string();
    // One thread per connection being served, kept-alive ones included: more
    // than httplib's default, so that a few idle or slow clients do not hold
    // every thread; few enough that as many max_upload bodies (each held a
    // few times over while it becomes a message) fit the unit's memory
    // ceiling. Each connection has a lifetime, and, unless a proxy on
    // loopback is in front (it has its own limits), a client at most 8.
    bool behind_proxy = a->endpoint.address().is_loopback() && impl_->web.tls_cert.empty();
    ConnectionLimits limits{kThreads, behind_proxy ? 0u : kPerClient, connection_lifetime(impl_->web.max_upload), host,
                            a->endpoint.port()};
    svr->new_task_queue = [limits] { return new GuardedTaskQueue(limits); };
    if (!svr->bind_to_port(host, a->endpoint.port()))
      throw std::runtime_error(fmt::format("web.listen: {}: cannot listen there", spec));
    spdlog::info("listening for the web form on {} ({})", spec, impl_->web.tls_cert.empty() ? "HTTP" : "HTTPS");
    impl_->servers.push_back(std::move(svr));
  }
  for (auto& svr : impl_->servers) impl_->threads.emplace_back([s = svr.get()] { s->listen_after_bind(); });
  // Running before the daemon says it is ready (and before a stop can come:
  // httplib's stop() does nothing to a server that has not started).
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto& svr : impl_->servers)
    while (!svr->is_running() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void WebServer::stop() {
  for (auto& svr : impl_->servers) svr->stop();
}

WebServer::~WebServer() {
  stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
}

}  // namespace cased
