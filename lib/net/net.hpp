// Client connections to IMAP and SMTP servers, shared by both: connect with
// a timeout, socket timeouts, verified TLS or STARTTLS (tls.hpp), password
// files, and a guard layer under libetpan's stream that bounds what a
// server may send.
//
// A server is not trusted: before TLS anyone on the path can answer for it.
// libetpan buffers a reply line, and a whole reply, without any limit, so
// the guard counts every byte it hands up and fails the read (libetpan then
// sees a broken connection) once a line or an exchange grows past its cap or
// an exchange outlives its deadline. The IMAP variant knows literals
// ("{n}\r\n" and n bytes that may hold any line length).
#pragma once

#include <libetpan/mailstream.h>

struct mailimap;

#include <chrono>
#include <cstddef>
#include <string>

#include "core/config.hpp"
#include "core/error.hpp"

namespace cased::net {

enum class Protocol { smtp, imap };

struct Limits {
  std::size_t max_line = 4096;          // bytes of one line (outside IMAP literals)
  std::size_t max_total = 1 << 20;      // bytes of one exchange (see arm())
  std::chrono::seconds deadline{120};   // time for one exchange
  int cancel_fd = -1;                   // readable: give up at once (the daemon is stopping)
};

// Connected and, for "tls", through the verified handshake; for "starttls"
// and "none" still plain (starttls() follows the server's go-ahead). The
// guard is armed with `limits` for the first exchange (the greeting).
Result<mailstream*> open(const std::string& host, int port, TransportSecurity security,
                         const std::string& ca_file, int timeout_seconds, Protocol protocol, Limits limits);

// After the server's positive STARTTLS reply: the verified TLS layer goes
// under the guard. Refuses bytes the server sent past its reply.
Status starttls(mailstream* stream, const std::string& host, const std::string& ca_file, int timeout_seconds);

// A password file (imap.password_file, smtp.password_file, named by
// `setting` in the error): its first line, without the line end.
Result<std::string> read_password_file(const std::string& setting, const std::string& path);

// Starts a new exchange: byte count back to zero, a new deadline.
void arm(mailstream* stream, std::size_t max_total, std::chrono::seconds deadline);

// Why the guard failed the last read ("the reply exceeded 65536 bytes"), or
// "" if it did not (the connection broke by itself).
std::string failure(mailstream* stream);

// True if bytes from the peer wait in a buffer that polling the socket
// cannot see (libetpan's own or GnuTLS's).
bool has_buffered_input(mailstream* stream);

// Text a server sent, for a log line or an error: made visible and inert,
// and at most `max` bytes.
std::string server_text(std::string_view text, std::size_t max = 200);

// Whether the IMAP server announced capability `name`. libetpan's own
// mailimap_has_extension and mailimap_has_idle trust the capability list
// and dereference NULL when its codes did not parse (a 166-byte greeting
// and LOGIN reply crashed the poller); this checks every pointer. A server
// that announced nothing offers nothing.
bool imap_has_capability(mailimap* session, const char* name);

}  // namespace cased::net
