#include "invoker.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace cased::cli {
namespace {

bool parse_id(const char* text, unsigned long& out) {
  if (!text || !*text) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtoul(text, &end, 10);
  return errno == 0 && *end == '\0';
}

// Restoring the process's own identity failed: carrying on with the wrong
// rights is worse than stopping.
[[noreturn]] void identity_lost() {
  static const char msg[] = "casectl: cannot restore its own user id; stopping\n";
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  std::_Exit(1);
}

std::vector<gid_t> groups_of(const std::string& user, gid_t gid) {
  int n = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(n));
  if (getgrouplist(user.c_str(), gid, groups.data(), &n) == -1) {
    groups.resize(static_cast<std::size_t>(n));
    if (getgrouplist(user.c_str(), gid, groups.data(), &n) == -1) n = 0;
  }
  groups.resize(static_cast<std::size_t>(n));
  if (groups.empty()) groups.push_back(gid);
  return groups;
}

// open() with the invoker's uid, gid and groups; the process's own restored after.
Result<int> open_switched(const Invoker& who, const std::string& path) {
  auto rights = InvokerRights::take(who, fmt::format("read {}", path));
  if (!rights) return rights.error();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  int err = errno;
  rights->reset();
  if (fd < 0) return Error{Errc::invalid, fmt::format("cannot read {} as {}: {}", path, who.user, std::strerror(err))};
  return fd;
}

}  // namespace

Result<std::unique_ptr<InvokerRights>> InvokerRights::take(const Invoker& who, const std::string& why) {
  std::unique_ptr<InvokerRights> r(new InvokerRights);
  r->own_groups_.resize(static_cast<std::size_t>(std::max(0, getgroups(0, nullptr))));
  if (getgroups(static_cast<int>(r->own_groups_.size()), r->own_groups_.data()) < 0) r->own_groups_.clear();
  r->own_uid_ = geteuid();
  r->own_gid_ = getegid();
  std::vector<gid_t> groups = who.user.rfind("uid", 0) == 0 ? std::vector<gid_t>{who.gid} : groups_of(who.user, who.gid);
  if (setgroups(groups.size(), groups.data()) != 0 || setegid(who.gid) != 0 || seteuid(who.uid) != 0) {
    int err = errno;
    r.reset();  // restores what was changed
    return Error{Errc::invalid,
                 fmt::format("cannot take the rights of {} to {}: {}", who.user, why, std::strerror(err))};
  }
  return r;
}

InvokerRights::~InvokerRights() {
  if (seteuid(own_uid_) != 0 || setegid(own_gid_) != 0 || setgroups(own_groups_.size(), own_groups_.data()) != 0)
    identity_lost();
}

bool Invoker::may_choose_config() const { return via_sudo ? uid == 0 : true; }

bool Invoker::unrestricted() const { return !via_sudo || uid == 0; }

Invoker invoker_from_environment() {
  Invoker who;
  const char* sudo_uid = std::getenv("SUDO_UID");
  if (!sudo_uid) return who;
  unsigned long uid = 0, gid = 0;
  bool uid_ok = parse_id(sudo_uid, uid);
  if (uid_ok && uid == getuid()) return who;  // sudo to oneself: nothing changes hands
  who.via_sudo = true;
  if (!uid_ok) {
    // Unknown invoker: treated as the least privileged one.
    who.uid = static_cast<uid_t>(-1);
    who.gid = static_cast<gid_t>(-1);
    who.user = "unknown-sudo-user";
    return who;
  }
  who.uid = static_cast<uid_t>(uid);
  const passwd* pw = getpwuid(who.uid);
  who.gid = parse_id(std::getenv("SUDO_GID"), gid) ? static_cast<gid_t>(gid) : pw ? pw->pw_gid : static_cast<gid_t>(-1);
  const char* name = std::getenv("SUDO_USER");
  if (pw && name && pw->pw_name == std::string(name)) who.user = name;
  else if (pw) who.user = pw->pw_name;
  else who.user = fmt::format("uid{}", uid);
  return who;
}

Result<int> open_as_invoker(const Invoker& who, const std::string& path) {
  if (who.unrestricted()) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return Error{Errc::invalid, fmt::format("cannot read {}: {}", path, std::strerror(errno))};
    return fd;
  }
  if (geteuid() == 0) return open_switched(who, path);
  return Error{Errc::invalid,
               fmt::format("casectl runs with another user's rights through sudo and reads no file by name for {}; "
                           "give it on stdin instead (for example -F - < {})",
                           who.user, path)};
}

Result<std::string> read_as_invoker(const Invoker& who, const std::string& path) {
  auto fd = open_as_invoker(who, path);
  if (!fd) return fd.error();
  std::string out;
  // A file's size known, its bytes are read into one buffer of that size, not
  // one grown by doubling (up to twice the message, held until it is stored).
  struct stat st {};
  if (::fstat(*fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(*fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(*fd);
      return Error{Errc::invalid, fmt::format("cannot read {}: {}", path, std::strerror(err))};
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(*fd);
  return out;
}

}  // namespace cased::cli
