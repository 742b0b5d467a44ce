// One small verified TLS layer, under libetpan's streams for IMAP and SMTP
// (net.hpp puts it in place, STARTTLS included). Debian's libetpan checks neither the chain nor the host name, so
// cased never lets it do TLS: GnuTLS verifies the chain against the system
// store plus an optional CA file, and the host name (or IP address).
#pragma once

#include <libetpan/mailstream.h>

#include <string>

#include "core/error.hpp"

namespace cased {

// A verified TLS client over the connected socket `fd` (handshake done).
// On success the stream layer owns `fd`; on error the caller still does.
// Errors name the host and GnuTLS's reason ("certificate verification
// failed for 127.0.0.1: The certificate issuer is unknown.").
Result<mailstream_low*> tls_client_low(int fd, const std::string& host, const std::string& ca_file,
                                       int timeout_seconds = 60);

// True if GnuTLS holds decrypted bytes of `low` (one of ours) that
// polling the socket cannot see.
bool tls_pending(mailstream_low* low);

}  // namespace cased
