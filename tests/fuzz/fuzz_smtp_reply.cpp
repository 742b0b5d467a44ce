// SMTP server replies, through the real smtp_send: a loopback listener in
// this process answers one connection per input with the input's bytes (all
// of them at once, then end of stream), reading and discarding what the
// client sends. smtp.security = "none" to a loopback host is the only mode
// without TLS; the replies before STARTTLS go through the same libetpan
// parser in the other modes.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "fuzz_common.hpp"
#include "net/smtp.hpp"

namespace {

class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 4) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      std::abort();
    port_ = ntohs(a.sin_port);
  }
  ~Listener() { ::close(fd_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  int port() const { return port_; }

  // Accepts one connection, writes `reply`, half-closes, drains, closes.
  void serve_once(std::string_view reply) const {
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    for (std::size_t off = 0; off < reply.size();) {
      ssize_t n = ::send(c, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::shutdown(c, SHUT_WR);
    char buf[4096];
    while (::recv(c, buf, sizeof buf, 0) > 0) {
    }
    ::close(c);
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cased::fuzz::quiet();
  static Listener listener;
  std::string reply(cased::fuzz::as_view(data, size));
  std::thread server([&] { listener.serve_once(reply); });
  cased::SmtpConfig cfg;
  cfg.host = "127.0.0.1";
  cfg.port = listener.port();
  cfg.security = cased::TransportSecurity::none;
  (void)cased::smtp_send(cfg, "", "security@example.com", {"rita@example.org", "bob@example.net"},
                                 "Subject: x\r\n\r\nbody\r\n", 5);
  server.join();
  return 0;
}
