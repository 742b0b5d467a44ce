#include "provider_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include "commands.hpp"
#include "outbound/compose.hpp"

namespace cased::cli {
namespace {

Error write_error(const std::string& what, const std::string& path, int err) {
  Errc code = err == ENOSPC || err == EDQUOT ? Errc::full : Errc::temporary;
  return Error{code, fmt::format("cannot {} {}: {}", what, path, std::strerror(err))};
}

Status make_dirs(const std::string& dir, const std::string& relative) {
  for (std::size_t slash = relative.find('/'); slash != std::string::npos; slash = relative.find('/', slash + 1)) {
    std::string path = dir + "/" + relative.substr(0, slash);
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return write_error("create", path, errno);
  }
  return ok_status();
}

Status write_synced(const std::string& path, const std::string& bytes) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return write_error("write", path, errno);
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return write_error("write", path, n < 0 ? errno : EIO);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return write_error("sync", path, errno);
  return ok_status();
}

void sync_dir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd) ::fsync(fd.get());
}

}  // namespace

ProviderDirLock::ProviderDirLock(const std::string& dir, int wait_seconds) {
  const std::string& path = dir;
  fd_.reset(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd_) fail(ExitCode::failure, fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  while (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR)
      fail(ExitCode::failure, fmt::format("cannot lock {}: {}", path, std::strerror(errno)));
    if (std::chrono::steady_clock::now() >= deadline)
      fail(ExitCode::temporary, fmt::format("{}: another advisory is being published into this directory; "
                                            "nothing published (try again)", dir));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string read_optional(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return {};
    fail(ExitCode::failure, fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  }
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(ExitCode::failure, fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

Status place_files(const std::string& dir, const std::vector<OutFile>& files) {
  std::vector<std::pair<std::string, std::string>> staged;  // temporary, final
  auto written = [&]() -> Status {
    for (const auto& f : files) {
      if (auto made = make_dirs(dir, f.path); !made) return made;
      std::string final_path = dir + "/" + f.path;
      std::size_t slash = final_path.rfind('/');
      std::string tmp = final_path.substr(0, slash + 1) + ".tmp-" + compose::random_hex(6) + "-" +
                        final_path.substr(slash + 1);
      staged.emplace_back(tmp, final_path);
      if (auto w = write_synced(tmp, f.bytes); !w) return w;
    }
    return ok_status();
  }();
  if (!written) {
    for (const auto& [tmp, final_path] : staged) ::unlink(tmp.c_str());
    return written;
  }
  std::set<std::string> parents;
  for (const auto& [tmp, final_path] : staged) {
    if (::rename(tmp.c_str(), final_path.c_str()) != 0)
      return Error{Errc::temporary, fmt::format("cannot rename {} to {}: {} (the files before it are in place)", tmp,
                                             final_path, std::strerror(errno))};
    parents.insert(final_path.substr(0, final_path.rfind('/')));
  }
  for (const auto& p : parents) sync_dir(p);
  return ok_status();
}

}  // namespace cased::cli
