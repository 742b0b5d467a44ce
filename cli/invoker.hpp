// Who runs casectl. Through `sudo -u cased casectl ...` the process has the
// service user's rights (the database, gpg.home, the SMTP password) while
// the person at the keyboard may have far fewer. Files named on the command
// line are then opened with the invoking user's rights, or only stdin is
// read when that is impossible (no root to switch with); the configuration
// file is chosen by root only; the actor recorded is the invoking user.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace cased::cli {

struct Invoker {
  bool via_sudo = false;  // SUDO_UID is set and differs from the real uid
  uid_t uid = 0;          // the invoking user's (SUDO_UID, SUDO_GID)
  gid_t gid = 0;
  std::string user;       // SUDO_USER when it names SUDO_UID, else "uidN"

  // May choose --config / CASED_CONFIG: root without sudo, or sudo from root.
  bool may_choose_config() const;
  // Reads files by name with the process's own rights (no sudo, or sudo from root).
  bool unrestricted() const;
};

Invoker invoker_from_environment();

// Opens `path` for reading as the invoking user: a plain open() when
// unrestricted; under sudo as root, with the invoker's uid, gid and groups
// for the open() alone; under sudo without root, refused (stdin only).
// Returns a file descriptor the caller owns.
Result<int> open_as_invoker(const Invoker& who, const std::string& path);

// While it lives, the process has the invoking user's uid, gid and groups
// (for root under sudo: the caller checks); its own are restored when it
// goes, or the process stops. For work longer than one open(): casectl
// backup writes its copy, and verify reads a file named by --database, as
// the person at the keyboard.
class InvokerRights {
 public:
  static Result<std::unique_ptr<InvokerRights>> take(const Invoker& who, const std::string& why);
  ~InvokerRights();
  InvokerRights(const InvokerRights&) = delete;
  InvokerRights& operator=(const InvokerRights&) = delete;

 private:
  InvokerRights() = default;
  uid_t own_uid_ = 0;
  gid_t own_gid_ = 0;
  std::vector<gid_t> own_groups_;
};

// The whole file, through open_as_invoker().
Result<std::string> read_as_invoker(const Invoker& who, const std::string& path);

}  // namespace cased::cli
