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

namespace {

struct Staged {
  std::string tmp, final_path;
  std::string backup;  // a hard link to the file it replaces, if any
  bool renamed = false;
};

// Puts the directory back as it was: each replaced file from its backup,
// each new one removed, every temporary file gone.
Error undo(const std::vector<Staged>& staged, Error error) {
  for (const auto& s : staged) {
    if (s.renamed && !s.backup.empty()) ::rename(s.backup.c_str(), s.final_path.c_str());
    else if (s.renamed) ::unlink(s.final_path.c_str());
    else ::unlink(s.tmp.c_str());
    if (!s.renamed && !s.backup.empty()) ::unlink(s.backup.c_str());
  }
  return error;
}

// Renames each file into place, keeping a hard link to the file it
// replaces until all are in place.
Status rename_all(std::vector<Staged>& staged) {
  for (auto& s : staged) {
    std::string backup = s.tmp + ".old";
    if (::link(s.final_path.c_str(), backup.c_str()) == 0) s.backup = backup;
    else if (errno != ENOENT) return undo(staged, write_error("keep", s.final_path, errno));
    if (::rename(s.tmp.c_str(), s.final_path.c_str()) != 0)
      return undo(staged, write_error("rename into", s.final_path, errno));
    s.renamed = true;
  }
  for (const auto& s : staged)
    if (!s.backup.empty()) ::unlink(s.backup.c_str());
  return ok_status();
}

}  // namespace

Status place_files(const std::string& dir, const std::vector<OutFile>& files) {
  std::vector<Staged> staged;
  for (const auto& f : files) {
    if (auto made = make_dirs(dir, f.path); !made) return undo(staged, made.error());
    std::string final_path = dir + "/" + f.path;
    std::size_t slash = final_path.rfind('/');
    std::string tmp =
        final_path.substr(0, slash + 1) + ".tmp-" + compose::random_hex(6) + "-" + final_path.substr(slash + 1);
    staged.push_back({tmp, final_path, "", false});
    if (auto w = write_synced(tmp, f.bytes); !w) return undo(staged, w.error());
  }
  if (auto renamed = rename_all(staged); !renamed) return renamed;
  std::set<std::string> parents;
  for (const auto& s : staged) parents.insert(s.final_path.substr(0, s.final_path.rfind('/')));
  for (const auto& p : parents) sync_dir(p);
  return ok_status();
}

}  // namespace cased::cli
