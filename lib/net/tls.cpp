#include "net/tls.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gnutls/gnutls.h>
#include <libetpan/libetpan.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

namespace cased {
namespace {

struct TlsData {
  int fd = -1;
  gnutls_session_t session = nullptr;
  gnutls_certificate_credentials_t cred = nullptr;
  ~TlsData() {
    if (session) gnutls_deinit(session);
    if (cred) gnutls_certificate_free_credentials(cred);
  }
};

TlsData* data_of(mailstream_low* s) { return static_cast<TlsData*>(s->data); }

ssize_t tls_read(mailstream_low* s, void* buf, size_t count) {
  TlsData* d = data_of(s);
  for (;;) {
    ssize_t n = gnutls_record_recv(d->session, buf, count);
    if (n >= 0) return n;
    if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN) {
      if (n == GNUTLS_E_AGAIN && errno == EAGAIN) return -1;  // SO_RCVTIMEO expired
      continue;
    }
    if (n == GNUTLS_E_PREMATURE_TERMINATION) return 0;
    return -1;
  }
}

ssize_t tls_write(mailstream_low* s, const void* buf, size_t count) {
  TlsData* d = data_of(s);
  for (;;) {
    ssize_t n = gnutls_record_send(d->session, buf, count);
    if (n >= 0) return n;
    if (n == GNUTLS_E_INTERRUPTED) continue;
    if (n == GNUTLS_E_AGAIN && errno != EAGAIN) continue;
    return -1;
  }
}

int tls_close(mailstream_low* s) {
  TlsData* d = data_of(s);
  if (d->session) gnutls_bye(d->session, GNUTLS_SHUT_WR);
  if (d->fd >= 0) ::close(d->fd);
  d->fd = -1;
  return 0;
}

int tls_get_fd(mailstream_low* s) { return data_of(s)->fd; }

void tls_free(mailstream_low* s) {
  delete data_of(s);
  s->data = nullptr;
  free(s);  // NOLINT(cppcoreguidelines-no-malloc): mailstream_low_new allocates with malloc
}

void tls_cancel(mailstream_low* s) {
  if (data_of(s)->fd >= 0) ::shutdown(data_of(s)->fd, SHUT_RDWR);
}

mailstream_low_driver tls_driver = {
    tls_read, tls_write, tls_close, tls_get_fd, tls_free, tls_cancel, nullptr, nullptr, nullptr, nullptr, nullptr,
};

bool is_ip_address(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Result<std::unique_ptr<TlsData>> handshake(int fd, const std::string& host, const std::string& ca_file,
                                           int timeout_seconds) {
  auto d = std::make_unique<TlsData>();
  d->fd = fd;
  timeval tv{timeout_seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (gnutls_certificate_allocate_credentials(&d->cred) < 0) return Error{Errc::temporary, "TLS: out of memory"};
  if (gnutls_certificate_set_x509_system_trust(d->cred) < 0)
    return Error{Errc::temporary, "TLS: cannot load the system trust store"};
  if (!ca_file.empty() && gnutls_certificate_set_x509_trust_file(d->cred, ca_file.c_str(), GNUTLS_X509_FMT_PEM) <= 0)
    return Error{Errc::invalid, fmt::format("TLS: no usable CA certificate in {}", ca_file)};
  if (gnutls_init(&d->session, GNUTLS_CLIENT) < 0) return Error{Errc::temporary, "TLS: out of memory"};
  // The system's defaults, never below TLS 1.2.
  if (gnutls_priority_set_direct(d->session, "NORMAL:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1", nullptr) < 0)
    return Error{Errc::internal, "TLS: priority string rejected"};
  gnutls_credentials_set(d->session, GNUTLS_CRD_CERTIFICATE, d->cred);
  if (!is_ip_address(host)) gnutls_server_name_set(d->session, GNUTLS_NAME_DNS, host.data(), host.size());
  // Chain and host name (or IP address SAN) are checked during the handshake.
  gnutls_session_set_verify_cert(d->session, host.c_str(), 0);
  gnutls_transport_set_int(d->session, fd);
  gnutls_handshake_set_timeout(d->session, static_cast<unsigned>(timeout_seconds) * 1000);
  int rc;
  do {
    rc = gnutls_handshake(d->session);
  } while (rc < 0 && gnutls_error_is_fatal(rc) == 0);
  if (rc < 0) {
    if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
      unsigned status = gnutls_session_get_verify_cert_status(d->session);
      gnutls_datum_t out{};
      std::string reason = "unknown reason";
      if (gnutls_certificate_verification_status_print(status, gnutls_certificate_type_get(d->session), &out, 0) == 0) {
        reason.assign(reinterpret_cast<const char*>(out.data), out.size);
        gnutls_free(out.data);
      }
      return Error{Errc::temporary, fmt::format("certificate verification failed for {}: {}", host, reason)};
    }
    return Error{Errc::temporary, fmt::format("TLS handshake with {} failed: {}", host, gnutls_strerror(rc))};
  }
  return d;
}

}  // namespace

Result<mailstream_low*> tls_client_low(int fd, const std::string& host, const std::string& ca_file,
                                       int timeout_seconds) {
  auto d = handshake(fd, host, ca_file, timeout_seconds);
  if (!d) return d.error();
  TlsData* raw = d->release();
  mailstream_low* low = mailstream_low_new(raw, &tls_driver);
  if (!low) {
    raw->fd = -1;
    delete raw;
    return Error{Errc::temporary, "TLS: out of memory"};
  }
  return low;
}

bool tls_pending(mailstream_low* low) {
  return low && low->driver == &tls_driver && data_of(low)->session &&
         gnutls_record_check_pending(data_of(low)->session) > 0;
}

}  // namespace cased
