// POST /report: a report from the form, checked, made into a message and
// stored through the ingest writer; the receipt only after the commit.
// Nothing the reporter typed reaches the log: a request id and the case.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <future>

#include "core/util.hpp"
#include "intake/prepare.hpp"
#include "mail/address.hpp"
#include "outbound/compose.hpp"
#include "web/page.hpp"
#include "web_internal.hpp"

namespace cased {
namespace {

// The form's fields from the parsed multipart body. Parts with other names
// are ignored; an empty file input (no file chosen) is no file.
web::Report read_report(const httplib::Request& req) {
  web::Report r;
  auto one = [&](const char* name) { return req.has_file(name) ? req.get_file_value(name).content : std::string(); };
  r.name = one("name");
  r.email = one("email");
  r.key = one("key");
  r.product = one("product");
  r.version = one("version");
  r.title = one("title");
  r.description = one("description");
  r.credit = !one("credit").empty();
  auto [begin, end] = req.files.equal_range("attachment");
  for (auto it = begin; it != end; ++it)
    if (!it->second.filename.empty() || !it->second.content.empty())
      r.files.push_back({it->second.filename, it->second.content_type, it->second.content});
  return r;
}

// The pasted key, if any: exactly one public key, read without importing it.
std::optional<KeyInfo> check_key(WebServer::Impl& s, const web::Report& r, web::FieldErrors& errors) {
  if (trim(r.key).empty() || errors.count("key")) return std::nullopt;
  Crypto* crypto = web_crypto(s.config);
  if (!crypto) {
    errors["key"] = "Keys cannot be read just now; leave this empty or try again later.";
    return std::nullopt;
  }
  std::vector<KeyInfo> keys;
  try {
    keys = crypto->keys_in(r.key);
  } catch (const std::exception&) {
    keys.clear();
  }
  if (keys.empty()) errors["key"] = "This is not an OpenPGP public key. Paste the whole armored block.";
  else if (keys.size() > 1) errors["key"] = "Paste one key only.";
  else if (keys.front().secret) errors["key"] = "This is a SECRET key: never send it. Paste your public key.";
  else return keys.front();
  return std::nullopt;
}

struct Stored {
  Result<IngestResult> result = Error{Errc::temporary, "not stored"};
  std::string receipt;
};

// Makes the message and hands it to the writer; waits for the commit.
Stored store_report(WebServer::Impl& s, const web::Report& r, const std::optional<KeyInfo>& key) {
  const std::string& alias = s.config.case_.alias;
  std::int64_t now = now_unix();
  web::MessageContext ctx{alias, fmt::format("web.{}@{}", web::random_token(12), alias.substr(alias.rfind('@') + 1)),
                          web::receipt_code(), key ? key->fingerprint : "", now,
                          "=_cased_web_" + web::random_token(12)};
  std::string email = normalize_address(trim(r.email));
  Envelope env{MessageSource::web, email.empty() ? std::optional<std::string>("") : email, {alias},
               WebSubmission{ctx.receipt, email, ctx.key_fingerprint}};
  PreparedMessage msg = prepare_message(web::build_message(r, ctx), std::move(env), nullptr);
  if (key) msg.keys.push_back({*key, "web"});
  auto done = std::make_shared<std::promise<Result<IngestResult>>>();
  auto future = done->get_future();
  s.writer.submit(std::move(msg), [done](Result<IngestResult> result) { done->set_value(std::move(result)); });
  return {future.get(), ctx.receipt};
}

// After the commit: the pasted key goes into the keyring (the
// acknowledgement waits for it), then the outbox is woken.
void after_commit(WebServer::Impl& s, const web::Report& r, const std::optional<KeyInfo>& key,
                  const IngestResult& stored, const std::string& request) {
  if (key) {
    Crypto* crypto = web_crypto(s.config);
    bool imported = false;
    try {
      imported = crypto && !crypto->import_keys(r.key).empty();
    } catch (const std::exception&) {
      imported = false;
    }
    if (!imported) spdlog::warn("web: request {} case={}: the pasted key was not imported", request, stored.case_id);
  }
  s.stored(stored);
}

}  // namespace

void handle_report(WebServer::Impl& s, const httplib::Request& req, httplib::Response& res) {
  const std::string request = web::random_token(6);
  res.set_header("X-Request-Id", request);
  if (!req.is_multipart_form_data() || req.files.size() > s.limits.max_parts)
    return html(res, 400, web::message_page("Error 400", "The form was not sent as the page sends it."));
  // A stale form, a token from elsewhere and a filled honeypot get the same
  // answer: a person reloads the page and sends again; a robot learns nothing.
  auto csrf = s.csrf.check(req.has_file("csrf") ? req.get_file_value("csrf").content : "",
                           cookie_value(req, kCsrfCookie), now_unix());
  bool honeypot = req.has_file("website") && !req.get_file_value("website").content.empty();
  if (csrf != web::CsrfKey::Check::ok || honeypot) {
    spdlog::info("web: request {} refused ({})", request,
                 honeypot ? "honeypot" : csrf == web::CsrfKey::Check::expired ? "form expired" : "no valid form token");
    return html(res, 403, web::message_page("The form has expired",
                                            "Please go back to the form, reload it, and send your report again."));
  }
  const std::string client = web::client_key(req.remote_addr, req.get_header_value("X-Forwarded-For"));
  std::int64_t now = now_unix();
  bool tried_too_often = !s.attempts.take(client, now);
  if (tried_too_often || !s.rate.take(client, now)) {
    spdlog::info("web: request {} refused: rate limit{}", request, tried_too_often ? " (attempts)" : "");
    res.set_header("Retry-After", "3600");
    return html(res, 429, web::message_page("Too many reports", "This address has sent as many reports as it may "
                                                                 "this hour. Please try again later, or write to " +
                                                                     s.config.case_.alias + "."));
  }
  web::Report report = read_report(req);
  web::FieldErrors errors = web::check_report(report, s.limits);
  std::optional<KeyInfo> key = check_key(s, report, errors);
  if (!errors.empty()) {
    s.rate.give_back(client);
    return serve_form(s, req, res, 400, &report, &errors);
  }
  Stored stored = store_report(s, report, key);
  if (!stored.result) {
    s.rate.give_back(client);
    spdlog::warn("web: request {} not stored: {}", request, stored.result.error().message);
    return html(res, 503, web::message_page("Not stored", "Your report could not be stored just now; nothing was "
                                                          "kept. Please go back and send it again in a few minutes."));
  }
  after_commit(s, report, key, *stored.result, request);
  spdlog::info("web: request {} stored as case={} message={}", request, stored.result->case_id,
               stored.result->message);
  html(res, 200, web::receipt_page(s.config.case_.alias,
                                   fmt::format("[{}#{}]", s.config.case_.tag, stored.result->case_id), stored.receipt));
}

}  // namespace cased
