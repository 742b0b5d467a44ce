#include "net/net.hpp"

#include <strings.h>

#include <fcntl.h>
#include <fmt/format.h>
#include <libetpan/libetpan.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>

#include "core/text.hpp"
#include "net/tls.hpp"
#include "core/unique_fd.hpp"

namespace cased::net {
namespace {

using Clock = std::chrono::steady_clock;

// The guard between libetpan's buffered stream and the transport (a plain
// socket or cased's TLS layer).
struct Guard {
  mailstream_low* inner = nullptr;
  Protocol protocol = Protocol::smtp;
  Limits limits;
  std::size_t total = 0;          // bytes of this exchange
  std::size_t line = 0;           // bytes of the current line so far
  Clock::time_point deadline;
  std::uint64_t literal_left = 0; // IMAP: bytes of a literal still to come
  // IMAP: recognising "{digits}" CR? LF at the end of a line.
  int lit_state = 0;              // 0 none, 1 digits, 2 after '}', 3 after '}' CR
  std::uint64_t lit_number = 0;
  int lit_digits = 0;
  std::string failure;
  bool at_end = false;  // the peer closed its side

  bool fail(std::string why) {
    failure = std::move(why);
    return false;
  }

  void literal_scan(char c) {
    if (c == '{') {
      lit_state = 1, lit_number = 0, lit_digits = 0;
    } else if (lit_state == 1 && c >= '0' && c <= '9') {
      if (++lit_digits <= 15) lit_number = lit_number * 10 + static_cast<std::uint64_t>(c - '0');
    } else if (lit_state == 1 && c == '}' && lit_digits > 0) {
      lit_state = 2;
    } else if ((lit_state == 2 && c == '\r')) {
      lit_state = 3;
    } else if (c != '\n') {
      lit_state = 0;
    }
  }

  // Accounts for `n` bytes about to go up to libetpan; false stops them.
  bool account(const char* p, std::size_t n) {
    total += n;
    if (total > limits.max_total)
      return fail(fmt::format("the server's reply exceeded {} bytes", limits.max_total));
    std::size_t i = 0;
    while (i < n) {
      if (literal_left > 0) {
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(literal_left, n - i));
        literal_left -= take;
        i += take;
        continue;
      }
      char c = p[i++];
      if (c == '\n') {
        if (protocol == Protocol::imap && (lit_state == 2 || lit_state == 3)) {
          if (lit_digits > 15 || lit_number > limits.max_total - std::min(total, limits.max_total))
            return fail(fmt::format("the server announced a literal of {}{} bytes, over the limit of {}",
                                    lit_digits > 15 ? "more than " : "", lit_number, limits.max_total));
          literal_left = lit_number;
        }
        line = 0, lit_state = 0;
        continue;
      }
      if (++line > limits.max_line)
        return fail(fmt::format("the server sent a line longer than {} bytes", limits.max_line));
      if (protocol == Protocol::imap) literal_scan(c);
    }
    return true;
  }
};

Guard* guard_of(mailstream_low* s) { return static_cast<Guard*>(s->data); }

// Waits for input (or a deadline); false and a reason when time is up.
bool wait_readable(Guard& g) {
  if (tls_pending(g.inner)) return true;
  int fd = mailstream_low_get_fd(g.inner);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(g.deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd p[2] = {{fd, POLLIN, 0}, {g.limits.cancel_fd, POLLIN, 0}};
    int n = ::poll(p, g.limits.cancel_fd >= 0 ? 2 : 1, static_cast<int>(std::min<long long>(left, 60'000)));
    if (n > 0 && g.limits.cancel_fd >= 0 && p[1].revents != 0) return g.fail("stopped while waiting for the server");
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let the read report it
  }
  return g.fail(fmt::format("no complete reply within {}s", g.limits.deadline.count()));
}

// libetpan 1.9.4's EHLO parser loops for ever on a TAB in the AUTH line
// (fuzz_smtp_reply found it: 100% CPU, the outbox stuck, SIGTERM unheard).
// In SMTP a TAB is only white space in reply text, so it reaches libetpan as
// a space; other control characters pass (and are shown made visible).
void blank_tabs(char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] == '\t') p[i] = ' ';
}

ssize_t guard_read(mailstream_low* s, void* buf, size_t count) {
  Guard& g = *guard_of(s);
  if (!g.failure.empty() || !wait_readable(g)) return -1;
  ssize_t n = mailstream_low_read(g.inner, buf, count);
  if (n > 0 && g.protocol == Protocol::smtp) blank_tabs(static_cast<char*>(buf), static_cast<std::size_t>(n));
  if (n > 0 && !g.account(static_cast<const char*>(buf), static_cast<std::size_t>(n))) return -1;
  // libetpan takes an end of stream inside an IMAP literal as an empty read
  // and asks again, forever (100% CPU, deaf to SIGTERM): the first end is
  // passed up, any read after it is an error.
  if (n == 0) {
    if (g.at_end) return g.fail("the server closed the connection"), -1;
    g.at_end = true;
  }
  return n;
}

ssize_t guard_write(mailstream_low* s, const void* buf, size_t count) {
  return mailstream_low_write(guard_of(s)->inner, buf, count);
}

int guard_close(mailstream_low* s) { return mailstream_low_close(guard_of(s)->inner); }

int guard_get_fd(mailstream_low* s) { return mailstream_low_get_fd(guard_of(s)->inner); }

void guard_free(mailstream_low* s) {
  Guard* g = guard_of(s);
  if (g->inner) mailstream_low_free(g->inner);
  delete g;
  s->data = nullptr;
  free(s);  // NOLINT(cppcoreguidelines-no-malloc): mailstream_low_new allocates with malloc
}

void guard_cancel(mailstream_low* s) { mailstream_low_cancel(guard_of(s)->inner); }

mailstream_low_driver guard_driver = {
    guard_read, guard_write, guard_close, guard_get_fd, guard_free, guard_cancel,
    nullptr,    nullptr,     nullptr,     nullptr,      nullptr,
};

Guard* guard_of_stream(mailstream* stream) {
  mailstream_low* low = stream ? mailstream_get_low(stream) : nullptr;
  return low && low->driver == &guard_driver ? guard_of(low) : nullptr;
}

// One address: a non-blocking connect bounded by the timeout.
int connect_one(const addrinfo* a, int timeout_seconds, int& err) {
  UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol));
  if (!fd) return err = errno, -1;
  if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) return err = errno, -1;
    pollfd p{fd.get(), POLLOUT, 0};
    int n;
    do n = ::poll(&p, 1, timeout_seconds * 1000);
    while (n < 0 && errno == EINTR);
    if (n == 0) return err = ETIMEDOUT, -1;
    socklen_t len = sizeof err;
    if (n < 0 || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      if (n < 0) err = errno;
      return -1;
    }
  }
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  timeval tv{timeout_seconds, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd.release();
}

Result<int> connect_tcp(const std::string& host, int port, int timeout_seconds) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) return Error{Errc::temporary, fmt::format("cannot resolve {}: {}", host, gai_strerror(rc))};
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(res, freeaddrinfo);
  int err = 0;
  for (addrinfo* a = res; a; a = a->ai_next) {
    int fd = connect_one(a, timeout_seconds, err);
    if (fd >= 0) return fd;
  }
  return Error{Errc::temporary, fmt::format("cannot connect to {}:{}: {}", host, port, std::strerror(err))};
}

}  // namespace

Result<mailstream*> open(const std::string& host, int port, TransportSecurity security, const std::string& ca_file,
                         int timeout_seconds, Protocol protocol, Limits limits) {
  auto fd = connect_tcp(host, port, timeout_seconds);
  if (!fd) return fd.error();
  mailstream_low* inner = nullptr;
  if (security == TransportSecurity::tls) {
    auto tls = tls_client_low(*fd, host, ca_file, timeout_seconds);
    if (!tls) {
      ::close(*fd);
      return tls.error();
    }
    inner = *tls;
  } else {
    inner = mailstream_low_socket_open(*fd);
    if (!inner) {
      ::close(*fd);
      return Error{Errc::temporary, "out of memory"};
    }
  }
  auto* g = new Guard{};
  g->inner = inner;
  g->protocol = protocol;
  g->limits = limits;
  g->deadline = Clock::now() + limits.deadline;
  mailstream_low* low = mailstream_low_new(g, &guard_driver);
  mailstream* stream = low ? mailstream_new(low, 8192) : nullptr;
  if (!stream) {
    if (low) {
      mailstream_low_close(low);
      mailstream_low_free(low);
    } else {
      mailstream_low_close(inner);
      mailstream_low_free(inner);
      delete g;
    }
    return Error{Errc::temporary, "out of memory"};
  }
  return stream;
}

Status starttls(mailstream* stream, const std::string& host, const std::string& ca_file, int timeout_seconds) {
  Guard* g = guard_of_stream(stream);
  if (!g) return Error{Errc::internal, "STARTTLS on a stream without cased's guard"};
  // Bytes already buffered were sent before TLS: anyone on the path could have put them there.
  if (stream->read_buffer_len > 0 || g->literal_left > 0 || g->line > 0)
    return Error{Errc::temporary, fmt::format("{} sent data after its STARTTLS reply; refusing it", host)};
  mailstream_low* plain = g->inner;
  auto tls = tls_client_low(mailstream_low_get_fd(plain), host, ca_file, timeout_seconds);
  if (!tls) return tls.error();
  g->inner = *tls;
  // The plain layer goes without closing the socket, which TLS now owns.
  mailstream_low_free(plain);
  return ok_status();
}

Result<std::string> read_password_file(const std::string& setting, const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{Errc::invalid, fmt::format("cannot read {} {}", setting, path)};
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

void arm(mailstream* stream, std::size_t max_total, std::chrono::seconds deadline) {
  Guard* g = guard_of_stream(stream);
  if (!g) return;
  g->limits.max_total = max_total;
  g->limits.deadline = deadline;
  g->total = 0;
  g->deadline = Clock::now() + deadline;
  g->failure.clear();
}

std::string failure(mailstream* stream) {
  Guard* g = guard_of_stream(stream);
  return g ? g->failure : std::string();
}

bool has_buffered_input(mailstream* stream) {
  if (stream->read_buffer_len > 0) return true;
  Guard* g = guard_of_stream(stream);
  return tls_pending(g ? g->inner : mailstream_get_low(stream));
}

std::string server_text(std::string_view text, std::size_t max) {
  std::string out = display_safe(text.substr(0, max * 2));
  if (out.size() <= max && text.size() <= max * 2) return out;
  std::size_t cut = std::min(max, out.size());
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  out.resize(cut);
  return out + "...";
}

bool imap_has_capability(mailimap* session, const char* name) {
  if (!session) return false;
  // Only what the server announced (greeting, LOGIN, CAPABILITY): asking
  // again here is no better, since mailimap_capability itself dereferences
  // NULL on an OK without capability data (crash-capability-ok-without-data).
  mailimap_capability_data* caps = session->imap_connection_info ? session->imap_connection_info->imap_capability : nullptr;
  if (!caps || !caps->cap_list) return false;
  for (clistiter* it = clist_begin(caps->cap_list); it; it = clist_next(it)) {
    auto* cap = static_cast<struct mailimap_capability*>(clist_content(it));
    if (cap && cap->cap_type == MAILIMAP_CAPABILITY_NAME && cap->cap_data.cap_name &&
        strcasecmp(cap->cap_data.cap_name, name) == 0)
      return true;
  }
  return false;
}

}  // namespace cased::net
