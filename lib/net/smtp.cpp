#include "net/smtp.hpp"

#include <fmt/format.h>
#include <libetpan/libetpan.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

#include "core/base64.hpp"
#include "net/net.hpp"
#include "mail/address.hpp"
#include "core/text.hpp"
#include "net/tls.hpp"

namespace cased {
namespace {

struct SmtpFree {
  void operator()(mailsmtp* s) const { mailsmtp_free(s); }
};

// RFC 5321 4.5.3.1.5 allows 512 bytes per reply line; some servers send more.
constexpr std::size_t kMaxReplyLine = 4096;
// All replies of one session: a few lines per command, a few per recipient.
constexpr std::size_t kMaxSessionReplies = 1 << 20;

struct Failed {
  SmtpResult::Kind kind;
  std::string message;
};

// The server's text, made visible and inert and cut short: it goes into
// logs, last_error and `casectl outbox`.
std::string server_said(mailsmtp* s) {
  std::string r = s->response ? s->response : "";
  for (char& c : r)
    if (c == '\r' || c == '\n') c = ' ';
  return fmt::format("{} {}", s->response_code, net::server_text(r));
}

// 4xx and transport errors are temporary, 5xx permanent.
void check(mailsmtp* s, int rc, const char* step, const std::string& host) {
  if (rc == MAILSMTP_NO_ERROR) return;
  bool permanent = s->response_code >= 500 && s->response_code < 600;
  std::string guard = s->stream ? net::failure(s->stream) : std::string();
  std::string detail = !guard.empty()          ? guard
                       : s->response_code ? server_said(s)
                                          : std::string(mailsmtp_strerror(rc));
  if (!guard.empty()) permanent = false;
  throw Failed{permanent ? SmtpResult::Kind::permanent : SmtpResult::Kind::temporary,
               fmt::format("{} at {}: {}", step, host, detail)};
}

bool is_loopback(const std::string& host) { return is_loopback_host(host); }

// One command line and its (possibly multi-line) reply code. libetpan's AUTH
// goes through Cyrus SASL, which hangs until the timeout when the server
// refuses the password; PLAIN and LOGIN are simple enough to speak directly.
int command(mailsmtp* s, const std::string& line, std::string& reply) {
  std::string out = line + "\r\n";
  if (mailstream_write(s->stream, out.data(), out.size()) < 0 || mailstream_flush(s->stream) < 0) return -1;
  std::unique_ptr<MMAPString, void (*)(MMAPString*)> buf(mmap_string_new(""), mmap_string_free);
  for (;;) {
    char* l = mailstream_read_line_remove_eol(s->stream, buf.get());
    if (!l) return -1;  // a broken connection, or the guard's limits (net.hpp)
    reply = l;
    if (reply.size() < 4 || reply[3] != '-') break;
  }
  return reply.size() >= 3 ? std::atoi(reply.substr(0, 3).c_str()) : -1;
}

void authenticate(mailsmtp* s, const std::string& user, const std::string& password, const std::string& host) {
  std::string reply;
  int code;
  if (s->auth & MAILSMTP_AUTH_PLAIN || !(s->auth & MAILSMTP_AUTH_LOGIN)) {
    code = command(s, "AUTH PLAIN " + base64_encode(std::string(1, '\0') + user + std::string(1, '\0') + password), reply);
  } else {
    code = command(s, "AUTH LOGIN", reply);
    if (code == 334) code = command(s, base64_encode(user), reply);
    if (code == 334) code = command(s, base64_encode(password), reply);
  }
  if (code == 235) return;
  if (code < 0) throw Failed{SmtpResult::Kind::temporary, fmt::format("connection to {} lost during AUTH", host)};
  throw Failed{code >= 500 ? SmtpResult::Kind::permanent : SmtpResult::Kind::temporary,
               fmt::format("authentication as {} at {} failed: {}", user, host, net::server_text(reply))};
}

}  // namespace

Result<std::string> smtp_password(const SmtpConfig& cfg) {
  if (cfg.password_file.empty()) return std::string();
  return net::read_password_file("smtp.password_file", cfg.password_file);
}

SmtpResult smtp_send(const SmtpConfig& cfg, const std::string& password, const std::string& envelope_from,
                     const std::vector<std::string>& recipients, std::string_view message,
                     int timeout_seconds) {
  SmtpResult result;
  const std::string& host = cfg.host;
  try {
    if (cfg.security == TransportSecurity::none && !is_loopback(host))
      throw Failed{SmtpResult::Kind::permanent, "smtp.security = \"none\" is allowed only for a loopback host"};
    if (recipients.empty()) throw Failed{SmtpResult::Kind::permanent, "no recipients"};
    // What could end the command line never goes into MAIL FROM or RCPT TO.
    if (!envelope_from.empty() && !valid_addr_spec(envelope_from))
      throw Failed{SmtpResult::Kind::permanent, "the envelope sender is not a valid address"};
    if (std::none_of(recipients.begin(), recipients.end(), [](const std::string& r) { return valid_addr_spec(r); }))
      throw Failed{SmtpResult::Kind::permanent, "no recipient is a valid address"};
    std::unique_ptr<mailsmtp, SmtpFree> s(mailsmtp_new(0, nullptr));
    if (!s) throw Failed{SmtpResult::Kind::temporary, "out of memory"};
    mailsmtp_set_timeout(s.get(), timeout_seconds);
    // Every reply of the session together is small; a server (or anyone on
    // the path before TLS) that sends more, longer lines, or too slowly is cut off.
    net::Limits limits{kMaxReplyLine, kMaxSessionReplies, std::chrono::seconds(timeout_seconds * 5)};
    auto opened = net::open(host, cfg.port, cfg.security, cfg.ca_file, timeout_seconds, net::Protocol::smtp, limits);
    if (!opened) throw Failed{SmtpResult::Kind::temporary, opened.error().message};
    mailstream* stream = *opened;
    check(s.get(), mailsmtp_connect(s.get(), stream), "greeting", host);
    int rc = mailesmtp_ehlo(s.get());
    if (rc == MAILSMTP_ERROR_NOT_IMPLEMENTED && cfg.security == TransportSecurity::none) rc = mailsmtp_helo(s.get());
    check(s.get(), rc, "EHLO", host);
    if (cfg.security == TransportSecurity::starttls) {
      if (!(s->esmtp & MAILSMTP_ESMTP_STARTTLS))
        throw Failed{SmtpResult::Kind::temporary, fmt::format("{} does not offer STARTTLS; nothing sent", host)};
      check(s.get(), mailesmtp_starttls(s.get()), "STARTTLS", host);
      if (auto up = net::starttls(s->stream, host, cfg.ca_file, timeout_seconds); !up)
        throw Failed{SmtpResult::Kind::temporary, up.error().message};
      check(s.get(), mailesmtp_ehlo(s.get()), "EHLO after STARTTLS", host);
    }
    if (!cfg.user.empty()) {
      if (cfg.security == TransportSecurity::none)
        throw Failed{SmtpResult::Kind::permanent, "refusing to send a password without TLS"};
      authenticate(s.get(), cfg.user, password, host);
    }
    check(s.get(), mailsmtp_mail(s.get(), envelope_from.c_str()), "MAIL FROM", host);
    std::size_t accepted = 0;
    std::string first_temporary;
    for (const auto& r : recipients) {
      if (!valid_addr_spec(r)) {
        result.rejected.push_back(display_safe(r));
        continue;
      }
      rc = mailsmtp_rcpt(s.get(), r.c_str());
      if (rc == MAILSMTP_NO_ERROR) {
        ++accepted;
      } else if (s->response_code >= 500 && s->response_code < 600) {
        result.rejected.push_back(r);
      } else {
        // One recipient deferred: send nothing now, so that a retry cannot send twice.
        first_temporary = fmt::format("RCPT TO {} at {}: {}", r, host, server_said(s.get()));
        break;
      }
    }
    if (!first_temporary.empty()) throw Failed{SmtpResult::Kind::temporary, first_temporary};
    if (accepted == 0)
      throw Failed{SmtpResult::Kind::permanent, fmt::format("{} refused every recipient", host)};
    check(s.get(), mailsmtp_data(s.get()), "DATA", host);
    check(s.get(), mailsmtp_data_message(s.get(), message.data(), message.size()), "end of DATA", host);
    mailsmtp_quit(s.get());
    result.kind = SmtpResult::Kind::sent;
    spdlog::info("smtp: sent to {} recipient(s) via {}:{}{}", accepted, host, cfg.port,
                 result.rejected.empty() ? "" : fmt::format(", {} refused", result.rejected.size()));
  } catch (const Failed& f) {
    result.kind = f.kind;
    result.error = f.message;
    spdlog::warn("smtp: {}:{}: {}", host, cfg.port, f.message);
  }
  return result;
}

}  // namespace cased
