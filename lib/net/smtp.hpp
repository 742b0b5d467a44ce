// Sending one message over SMTP with libetpan: STARTTLS by default (a server
// that does not offer it is an error, never a plain-text fallback), implicit
// TLS on request, plain only to loopback; certificates always verified
// (tls.hpp); AUTH only after TLS. No message content is ever logged.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"

namespace cased {

struct SmtpResult {
  enum class Kind { sent, temporary, permanent } kind = Kind::temporary;
  std::string error;                  // one line, no message content
  std::vector<std::string> rejected;  // recipients refused with 5xx while others were accepted
};

SmtpResult smtp_send(const SmtpConfig& cfg, const std::string& password, const std::string& envelope_from,
                     const std::vector<std::string>& recipients, std::string_view message,
                     int timeout_seconds = 120);

// The password for smtp.user: smtp.password_file's first line ("" without
// a file). Read with the IMAP client's reader (net.hpp).
Result<std::string> smtp_password(const SmtpConfig& cfg);

}  // namespace cased
