#include "parse_worker.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <memory>
#include <optional>
#include <spdlog/spdlog.h>
#include <thread>

#include "crypto/crypto.hpp"
#include "intake/wire.hpp"

extern char** environ;

namespace cased {
namespace {

using Clock = std::chrono::steady_clock;
using Deadline = std::optional<Clock::time_point>;  // nullopt: wait as long as it takes

constexpr std::size_t kHeader = 8;  // each frame: payload length, 8 bytes little-endian

// Waits until `fd` is ready for `events`; false when the deadline passes.
bool wait_ready(int fd, short events, const Deadline& deadline) {
  for (;;) {
    int ms = -1;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      if (left <= 0) return false;
      ms = static_cast<int>(std::min<long long>(left, 60'000));
    }
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, ms);
    if (rc > 0) return true;  // readiness, hang-up or error: the next call reports which
    if (rc < 0 && errno != EINTR) return false;
  }
}

Status send_frame(int fd, std::string_view payload, const Deadline& deadline) {
  std::string header(kHeader, '\0');
  for (std::size_t i = 0; i < kHeader; ++i) header[i] = static_cast<char>((payload.size() >> (8 * i)) & 0xff);
  for (std::string_view part : {std::string_view(header), payload}) {
    while (!part.empty()) {
      ssize_t n = ::send(fd, part.data(), part.size(), MSG_NOSIGNAL);
      if (n > 0) {
        part.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!wait_ready(fd, POLLOUT, deadline)) return Error{Errc::temporary, "timed out sending to the parse worker"};
        continue;
      }
      return Error{Errc::temporary, fmt::format("sending to the parse worker: {}", std::strerror(errno))};
    }
  }
  return ok_status();
}

// Reads exactly `out.size()` bytes; true when done. `eof_ok`: a clean end
// before the first byte is `false` rather than an error.
Result<bool> read_exact(int fd, std::string& out, const Deadline& deadline, bool eof_ok) {
  std::size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::recv(fd, out.data() + got, out.size() - got, 0);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) {
      if (got == 0 && eof_ok) return false;
      return Error{Errc::temporary, "the parse worker closed the connection"};
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_ready(fd, POLLIN, deadline)) return Error{Errc::temporary, "the parse worker took too long"};
      continue;
    }
    return Error{Errc::temporary, fmt::format("reading from the parse worker: {}", std::strerror(errno))};
  }
  return true;
}

// One frame; an empty optional at a clean end of stream.
Result<std::optional<std::string>> recv_frame(int fd, const Deadline& deadline, std::size_t max_size) {
  std::string header(kHeader, '\0');
  auto h = read_exact(fd, header, deadline, true);
  if (!h) return h.error();
  if (!h.value()) return std::optional<std::string>();
  std::uint64_t size = 0;
  for (std::size_t i = 0; i < kHeader; ++i) size |= static_cast<std::uint64_t>(static_cast<unsigned char>(header[i])) << (8 * i);
  if (size > max_size) return Error{Errc::temporary, fmt::format("parse worker frame of {} bytes is too large", size)};
  std::string payload(size, '\0');
  auto p = read_exact(fd, payload, deadline, false);
  if (!p) return p.error();
  return std::optional<std::string>(std::move(payload));
}

// A prepared message holds the raw bytes and a few decoded copies of them.
constexpr std::size_t kMaxFrame = std::size_t{1} << 36;

}  // namespace

ParseWorker::ParseWorker(ParseWorkerOptions options) : options_(std::move(options)) {}

ParseWorker::~ParseWorker() { stop(false); }

Status ParseWorker::start() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Error{Errc::temporary, fmt::format("socketpair: {}", std::strerror(errno))};
  int child_end = sv[1];
  if (child_end == 3) {  // dup2(3, 3) would leave close-on-exec set
    child_end = ::fcntl(sv[1], F_DUPFD_CLOEXEC, 4);
    ::close(sv[1]);
  }
  std::vector<std::string> args = {options_.exe, "--parse-worker", "--gpg-timeout",
                                   std::to_string(options_.gpg_timeout_seconds), "--max-plaintext",
                                   std::to_string(options_.max_plaintext)};
  if (!options_.gpg_home.empty()) {
    args.emplace_back("--gpg-home");
    args.push_back(options_.gpg_home);
  }
  for (const auto& fpr : options_.own_keys) {
    args.emplace_back("--own-key");
    args.push_back(fpr);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, child_end, 3);
  // Nothing else of the daemon's (client connections, listeners) leaks in.
  posix_spawn_file_actions_addclosefrom_np(&actions, 4);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);  // asio's threads block every signal
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, options_.exe.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(child_end);
  if (rc != 0) {
    ::close(sv[0]);
    return Error{Errc::temporary, fmt::format("cannot start a parse worker ({}): {}", options_.exe, std::strerror(rc))};
  }
  ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
  fd_ = sv[0];
  pid_ = pid;
  spdlog::debug("parse worker {} started", pid_);
  return ok_status();
}

void ParseWorker::stop(bool force) {
  if (fd_ >= 0) ::close(fd_);  // the worker exits when it reads the end
  fd_ = -1;
  if (pid_ < 0) return;
  if (!force) {
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

Result<PreparedMessage> ParseWorker::prepare(std::string raw, Envelope envelope) {
  // A worker that died between messages (killed, say) is replaced before it
  // costs this message a retry.
  if (pid_ >= 0 && ::waitpid(pid_, nullptr, WNOHANG) == pid_) {
    spdlog::warn("parse worker {} had exited; starting a new one", pid_);
    pid_ = -1;
    stop(true);
  }
  if (pid_ < 0)
    if (auto s = start(); !s) return s.error();
  // Each gpg operation has its own limit; a message takes a few of them.
  const auto deadline = Clock::now() + std::chrono::seconds(4 * options_.gpg_timeout_seconds + 30);
  auto fail = [&](const Error& e) -> Result<PreparedMessage> {
    spdlog::warn("parse worker {}: {}; starting a new one", pid_, e.message);
    stop(true);
    return Error{Errc::temporary, e.message};
  };
  if (auto s = send_frame(fd_, wire::encode_request(raw, envelope), deadline); !s) return fail(s.error());
  auto frame = recv_frame(fd_, deadline, kMaxFrame);
  if (!frame) return fail(frame.error());
  if (!frame.value()) return fail(Error{Errc::temporary, "the parse worker closed the connection"});
  try {
    return wire::decode_reply(*frame.value());
  } catch (const wire::WireError& e) {
    return fail(Error{Errc::temporary, fmt::format("bad reply: {}", e.what())});
  }
}

int run_parse_worker(int fd, const ParseWorkerOptions& options) {
  // Shutdown is the daemon's: it finishes what is in flight, then closes
  // our socket, and we exit on that. A terminal's Ctrl-C or systemd's
  // SIGTERM to the whole group must not cut a message short.
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<Crypto> crypto;
  // Whether to make a Crypto (again) before the next message: PGP is on and
  // none was made yet, as gpg-agent did not answer (CryptoTimeout).
  bool want_crypto = !options.gpg_home.empty();
  if (want_crypto && !options.own_keys.empty()) Crypto::remember_own_keys(options.gpg_home, options.own_keys);
  auto make_crypto = [&] {
    if (!want_crypto) return;
    try {
      crypto = std::make_unique<Crypto>(options.gpg_home, std::chrono::seconds(options.gpg_timeout_seconds),
                                        options.max_plaintext);
    } catch (const CryptoTimeout&) {
      throw;  // not off: this message is retried, and the next one tries again
    } catch (const std::exception& e) {
      spdlog::warn("parse worker: PGP is off: {}", e.what());
    }
    want_crypto = false;
  };
  for (;;) {
    auto frame = recv_frame(fd, std::nullopt, kMaxFrame);
    if (!frame) {
      spdlog::error("parse worker: {}", frame.error().message);
      return 1;
    }
    if (!frame.value()) return 0;  // the daemon is done with us
    Result<PreparedMessage> reply = Error{Errc::internal, "not handled"};
    try {
      wire::Request request = wire::decode_request(*frame.value());
      frame.value().reset();
      make_crypto();
      reply = prepare_message(std::move(request.raw), std::move(request.envelope), crypto.get());
    } catch (const CryptoTimeout& e) {
      reply = Error{Errc::unavailable, e.what()};  // the agent's fault, not the message's: 451, retried
    } catch (const std::exception& e) {
      // A crash in parsing must not lose the message: the MTA retries.
      reply = Error{Errc::temporary, fmt::format("parse failed: {}", e.what())};
    }
    if (auto s = send_frame(fd, wire::encode_reply(reply), std::nullopt); !s) {
      spdlog::error("parse worker: {}", s.error().message);
      return 1;
    }
  }
}

}  // namespace cased
