// The CSAF provider directory on disk, for `advisory publish`: one
// publisher at a time (a lock on the directory), files read when present, and a set of
// files put in place together (each written and synced under a temporary
// name beside its place, then all renamed), so that a refusal or a failed
// write leaves the directory as it was.
#pragma once

#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/unique_fd.hpp"

namespace cased::cli {

struct OutFile {
  std::string path;   // relative to the directory
  std::string bytes;
};

// An exclusive flock(2) on the directory itself, held while it lives:
// two publishers into one directory would each read changes.csv and the
// second rename would drop the first one's row. Waits at most
// `wait_seconds` for another publisher, then fails (ExitCode::temporary).
class ProviderDirLock {
 public:
  ProviderDirLock(const std::string& dir, int wait_seconds);

 private:
  UniqueFd fd_;
};

// The file's bytes; "" when it does not exist. Fails on any other error.
std::string read_optional(const std::string& path);

// Writes every file under a temporary name (mode 0644: the directory is
// public), syncs it, then renames them all into place, in order, and syncs
// the directories. A failure at any step puts back the files it replaced
// (each kept as a hard link until all are in place) and removes the rest:
// the directory is as it was.
Status place_files(const std::string& dir, const std::vector<OutFile>& files);

}  // namespace cased::cli
