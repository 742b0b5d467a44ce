#include "pager.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string_view>

namespace cased::cli {
namespace {

// `less` somewhere on $PATH.
bool have_less() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    if (!dir.empty() && ::access((dir + "/less").c_str(), X_OK) == 0) return true;
  return false;
}

// The pager command, or nullopt for none.
std::optional<std::string> pager_command() {
  if (::isatty(STDOUT_FILENO) != 1) return std::nullopt;
  const char* env = std::getenv("PAGER");
  if (env) {
    std::string_view p(env);
    if (p.find_first_not_of(" \t") == std::string_view::npos || p == "cat") return std::nullopt;
    return std::string(p);
  }
  if (!have_less()) return std::nullopt;
  return std::string("less -FRX");
}

// SIGPIPE ignored (a write to a pager that quit fails with EPIPE instead),
// and SIGINT and SIGQUIT left to the pager, until the end of the scope.
class PagerSignals {
 public:
  PagerSignals()
      : pipe_(std::signal(SIGPIPE, SIG_IGN)), int_(std::signal(SIGINT, SIG_IGN)), quit_(std::signal(SIGQUIT, SIG_IGN)) {}
  ~PagerSignals() {
    std::signal(SIGPIPE, pipe_);
    std::signal(SIGINT, int_);
    std::signal(SIGQUIT, quit_);
  }
  PagerSignals(const PagerSignals&) = delete;
  PagerSignals& operator=(const PagerSignals&) = delete;

 private:
  void (*pipe_)(int);
  void (*int_)(int);
  void (*quit_)(int);
};

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // EPIPE: the pager quit; the rest is not wanted
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

void page(const std::string& text) {
  auto command = pager_command();
  if (!command) {
    std::cout << text;
    return;
  }
  std::cout.flush();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    std::cout << text;
    return;
  }
  PagerSignals signals;
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    std::cout << text;
    return;
  }
  if (pid == 0) {
    ::dup2(fds[0], STDIN_FILENO);  // dup2 clears O_CLOEXEC on the copy
    for (int sig : {SIGPIPE, SIGINT, SIGQUIT}) ::signal(sig, SIG_DFL);
    // less without LESS set: quit at once on one screen, colours, no clearing (as git).
    ::setenv("LESS", "FRX", 0);
    ::execl("/bin/sh", "sh", "-c", command->c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[0]);
  write_all(fds[1], text);
  ::close(fds[1]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace cased::cli
