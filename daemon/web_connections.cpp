#include "web_connections.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <memory>
#include <vector>

#include "web/guard.hpp"

namespace cased {
namespace {

std::int64_t monotonic_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The address and port of a socket address, as text and a number.
std::pair<std::string, unsigned short> address_of(const sockaddr_storage& sa) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (sa.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
    ::inet_ntop(AF_INET, &in->sin_addr, buf.data(), buf.size());
    return {buf.data(), ntohs(in->sin_port)};
  }
  if (sa.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, buf.data(), buf.size());
    return {buf.data(), ntohs(in6->sin6_port)};
  }
  return {"", 0};
}

bool wildcard(const std::string& address) { return address.empty() || address == "0.0.0.0" || address == "::"; }

// At most one line a minute: a connection served without a lifetime.
void untracked_warning(int candidates) {
  static std::atomic<std::int64_t> last{0};
  std::int64_t now = monotonic_seconds();
  std::int64_t was = last.load();
  if (now - was < 60 || !last.compare_exchange_strong(was, now)) return;
  spdlog::warn("web: a connection is served without a lifetime ({} new sockets where one was expected{})", candidates,
               candidates == 0 ? ", or no file descriptor to look with" : "");
}

}  // namespace

std::chrono::seconds connection_lifetime(std::size_t max_upload) {
#ifdef CASED_TEST_HOOKS
  if (const char* s = std::getenv("CASED_TEST_WEB_LIFETIME"); s && *s) return std::chrono::seconds(std::atoi(s));
#endif
  return std::chrono::seconds(60 + static_cast<std::int64_t>(max_upload / 65536));
}

GuardedTaskQueue::GuardedTaskQueue(ConnectionLimits limits)
    : limits_(std::move(limits)),
      pool_(limits_.threads),
      table_(limits_.per_client, limits_.lifetime.count()),
      watchdog_([this] { watch(); }) {}

GuardedTaskQueue::~GuardedTaskQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

// The connected sockets of each guarded port at the last look, by inode,
// shared by the listeners (two may share a port). A socket is new only
// once: one that could not be told apart (two accepted at the same moment)
// is served unwatched, alone, and confuses no later accept.
struct SeenSockets {
  std::mutex mu;
  std::map<unsigned short, std::set<ino_t>> by_port;
};

SeenSockets& seen_sockets() {
  static SeenSockets seen;
  return seen;
}

// The socket accept() just returned: connected, on this listener's address,
// and not there at the last look. Nothing when there is not exactly one.
std::optional<GuardedTaskQueue::Accepted> GuardedTaskQueue::find_accepted() {
  SeenSockets& seen = seen_sockets();
  std::lock_guard seen_lock(seen.mu);
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/proc/self/fd"), &::closedir);
  if (!dir) {
    untracked_warning(0);
    return std::nullopt;
  }
  std::set<ino_t>& before = seen.by_port[limits_.port];
  std::set<ino_t> after;  // this listener's sockets now, and another's seen before
  int found = -1, count = 0;
  sockaddr_storage peer{};
  while (const dirent* e = ::readdir(dir.get())) {
    int fd = -1;
    std::string_view name(e->d_name);
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc() || fd == ::dirfd(dir.get()))
      continue;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage local{}, remote{};
    socklen_t local_len = sizeof local, remote_len = sizeof remote;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) continue;
    auto [address, port] = address_of(local);
    if (port != limits_.port) continue;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remote_len) != 0) continue;  // the listener
    bool ours = wildcard(limits_.address) || address == limits_.address;
    bool known = before.count(st.st_ino) != 0;
    if (ours || known) after.insert(st.st_ino);
    if (ours && !known) found = fd, peer = remote, ++count;
  }
  before = std::move(after);
  if (count != 1) {
    untracked_warning(count);
    return std::nullopt;
  }
  UniqueFd copy(::fcntl(found, F_DUPFD_CLOEXEC, 0));
  if (!copy) {
    untracked_warning(0);
    return std::nullopt;
  }
  std::string client = limits_.per_client == 0 ? "" : web::client_key(address_of(peer).first, "");
  return Accepted{std::move(copy), std::move(client)};
}

void GuardedTaskQueue::enqueue(std::function<void()> fn) {
  auto accepted = find_accepted();
  std::uint64_t id = 0;
  if (accepted) {
    std::lock_guard lock(mu_);
    id = next_id_++;
    if (!table_.admit(id, accepted->client, monotonic_seconds())) {
      spdlog::info("web: a connection from {} refused: {} open already", accepted->client, limits_.per_client);
      ::shutdown(accepted->socket.get(), SHUT_RDWR);
      accepted->socket.reset();  // while it waits for a thread it holds one descriptor, not two
    }
    open_.emplace(id, std::move(*accepted));
  }
  pool_.enqueue([this, id, fn = std::move(fn)] {
    fn();
    if (id) finish(id);
  });
}

void GuardedTaskQueue::finish(std::uint64_t id) {
  std::lock_guard lock(mu_);
  table_.finish(id);
  auto it = open_.find(id);
  if (it != open_.end()) open_.erase(it);
  if (open_.empty()) wake_.notify_all();
}

void GuardedTaskQueue::watch() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::seconds(1));
    for (std::uint64_t id : table_.overdue(monotonic_seconds())) {
      auto it = open_.find(id);
      if (it == open_.end()) continue;
      spdlog::info("web: a connection from {} cut after {}s", it->second.client.empty() ? "the proxy" : it->second.client,
                   limits_.lifetime.count());
      if (it->second.socket) ::shutdown(it->second.socket.get(), SHUT_RDWR);
    }
  }
}

// At a stop: the requests being served get a few seconds to finish, then
// every connection is cut, so that a slow client cannot hold the daemon's
// exit for its whole lifetime.
void GuardedTaskQueue::shutdown() {
  {
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, std::chrono::seconds(5), [&] { return open_.empty(); });
    for (auto& [id, accepted] : open_)
      if (accepted.socket) ::shutdown(accepted.socket.get(), SHUT_RDWR);
  }
  pool_.shutdown();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

}  // namespace cased
