#include "web_connections.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <array>
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

// The socket accept() just returned: connected, on the listening address,
// and not one this queue knows. Nothing when there is not exactly one
// (the connection is then served unwatched, as httplib alone would).
std::optional<GuardedTaskQueue::Accepted> GuardedTaskQueue::find_accepted() {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/proc/self/fd"), &::closedir);
  if (!dir) return std::nullopt;
  int found = -1, count = 0;
  ino_t inode = 0;
  sockaddr_storage peer{};
  while (const dirent* e = ::readdir(dir.get())) {
    int fd = -1;
    std::string_view name(e->d_name);
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc() || fd == ::dirfd(dir.get()))
      continue;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    {
      std::lock_guard lock(mu_);
      if (inodes_.count(st.st_ino)) continue;
    }
    sockaddr_storage local{}, remote{};
    socklen_t local_len = sizeof local, remote_len = sizeof remote;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) continue;
    auto [address, port] = address_of(local);
    if (port != limits_.port || (!wildcard(limits_.address) && address != limits_.address)) continue;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remote_len) != 0) continue;  // the listener
    found = fd, inode = st.st_ino, peer = remote, ++count;
  }
  if (count != 1) return std::nullopt;
  UniqueFd copy(::fcntl(found, F_DUPFD_CLOEXEC, 0));
  if (!copy) return std::nullopt;
  std::string client = limits_.per_client == 0 ? "" : web::client_key(address_of(peer).first, "");
  return Accepted{std::move(copy), inode, std::move(client)};
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
    }
    inodes_.insert(accepted->inode);
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
  if (it == open_.end()) return;
  inodes_.erase(it->second.inode);
  open_.erase(it);
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
      ::shutdown(it->second.socket.get(), SHUT_RDWR);
    }
  }
}

void GuardedTaskQueue::shutdown() {
  pool_.shutdown();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

}  // namespace cased
