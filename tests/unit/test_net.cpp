// The guard under libetpan's stream (net.hpp) against a scripted server on
// a loopback socket: line and reply caps, IMAP literals, and the deadline
// of an exchange that a server keeps alive one byte at a time.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <libetpan/libetpan.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "net/net.hpp"

namespace {

// Listens on 127.0.0.1, accepts one client and runs `script` on it.
class Server {
 public:
  explicit Server(std::function<void(int)> script) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(listener_, 1);
    thread_ = std::thread([this, script] {
      int fd = ::accept(listener_, nullptr, nullptr);
      if (fd >= 0) {
        script(fd);
        ::close(fd);
      }
    });
  }
  ~Server() {
    thread_.join();
    ::close(listener_);
  }
  int port() const { return port_; }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
};

bool send_all(int fd, const std::string& s) { return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size()); }

struct Stream {
  mailstream* s = nullptr;
  ~Stream() {
    if (s) mailstream_close(s);
  }
};

mailstream* open_to(int port, cased::net::Protocol p, cased::net::Limits limits) {
  auto r = cased::net::open("127.0.0.1", port, cased::TransportSecurity::none, "", 5, p, limits);
  REQUIRE(r.ok());
  return *r;
}

// Reads lines until one fails; returns how many came.
int read_lines(mailstream* s) {
  MMAPString* buf = mmap_string_new("");
  int n = 0;
  while (mailstream_read_line(s, buf)) ++n;
  mmap_string_free(buf);
  return n;
}

}  // namespace

TEST_CASE("net guard: a line without end is cut at max_line", "[net]") {
  std::atomic<bool> stop{false};
  Server server([&](int fd) {
    send_all(fd, "* OK ");
    std::string chunk(4096, 'A');
    while (!stop && send_all(fd, chunk)) {
    }
  });
  Stream st{open_to(server.port(), cased::net::Protocol::smtp, {1000, 1 << 20, std::chrono::seconds(10)})};
  CHECK(read_lines(st.s) == 0);
  CHECK(cased::net::failure(st.s) == "the server sent a line longer than 1000 bytes");
  stop = true;
  mailstream_close(st.s);
  st.s = nullptr;
}

TEST_CASE("net guard: endless short lines are cut at max_total", "[net]") {
  std::atomic<bool> stop{false};
  Server server([&](int fd) {
    while (!stop && send_all(fd, "250-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n")) {
    }
  });
  Stream st{open_to(server.port(), cased::net::Protocol::smtp, {1000, 100000, std::chrono::seconds(10)})};
  int lines = read_lines(st.s);
  CHECK(lines > 1000);
  CHECK(lines < 2200);  // 100000 bytes of 48-byte lines
  CHECK(cased::net::failure(st.s) == "the server's reply exceeded 100000 bytes");
  stop = true;
  mailstream_close(st.s);
  st.s = nullptr;
}

TEST_CASE("net guard: a trickle ends at the exchange's deadline", "[net]") {
  std::atomic<bool> stop{false};
  Server server([&](int fd) {
    while (!stop && send_all(fd, "2")) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  });
  Stream st{open_to(server.port(), cased::net::Protocol::smtp, {1 << 20, 1 << 20, std::chrono::seconds(1)})};
  auto t0 = std::chrono::steady_clock::now();
  CHECK(read_lines(st.s) == 0);
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < std::chrono::seconds(3));
  CHECK(cased::net::failure(st.s) == "no complete reply within 1s");
  stop = true;
  mailstream_close(st.s);
  st.s = nullptr;
}

TEST_CASE("net guard: IMAP literals may hold long lines, but not more than the budget", "[net]") {
  std::string body(5000, 'b');  // one 5000-byte "line" inside a literal
  Server server([&](int fd) {
    send_all(fd, "* 1 FETCH (BODY[] {" + std::to_string(body.size()) + "}\r\n" + body + ")\r\n");
    char go[4];
    if (::recv(fd, go, sizeof go, MSG_WAITALL) != sizeof go) return;  // not in the same read as the above
    send_all(fd, "* 2 FETCH (BODY[] {99999999}\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  });
  Stream st{open_to(server.port(), cased::net::Protocol::imap, {1000, 20000, std::chrono::seconds(5)})};
  MMAPString* buf = mmap_string_new("");
  CHECK(mailstream_read_line(st.s, buf) != nullptr);  // up to the literal's CRLF
  std::string got;
  char chunk[4096];
  while (got.size() < body.size() + 3) {
    ssize_t n = mailstream_read(st.s, chunk, std::min(sizeof chunk, body.size() + 3 - got.size()));
    REQUIRE(n > 0);
    got.append(chunk, static_cast<std::size_t>(n));
  }
  CHECK(got == body + ")\r\n");
  CHECK(cased::net::failure(st.s).empty());
  REQUIRE(mailstream_write(st.s, "go\r\n", 4) == 4);
  REQUIRE(mailstream_flush(st.s) == 0);
  CHECK(mailstream_read_line(st.s, buf) == nullptr);  // the 99999999-byte literal is refused
  CHECK(cased::net::failure(st.s).find("literal of 99999999 bytes") != std::string::npos);
  mmap_string_free(buf);
}

TEST_CASE("net::server_text makes a server's text inert and short", "[net]") {
  CHECK(cased::net::server_text("\x1b[31mred\r\n") == "^[[31mred^M^J");
  std::string long_text(1000, 'x');
  CHECK(cased::net::server_text(long_text, 10) == "xxxxxxxxxx...");
}
