#include "draft.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string_view>

#include "context.hpp"
#include "core/text.hpp"
#include "core/util.hpp"
#include "mail/address.hpp"

namespace cased::cli {
namespace {

constexpr std::size_t kMaxDraft = 4 << 20;  // what a reply typed in an editor may reach
constexpr const char* kAskForText = "give the text with -m TEXT or -F FILE";

// Set by the handlers while the editor runs (see EditorSignals).
volatile std::sig_atomic_t g_signal = 0;
volatile std::sig_atomic_t g_editor = 0;

// The editor runs in a process group of its own: a signal reaches the
// shell that runs it and everything it started.
void forward_signal(int sig) {
  g_signal = sig;
  if (g_editor > 0) ::kill(-static_cast<pid_t>(g_editor), sig);
}

// Makes `group` the foreground process group of the terminal on stdin.
void give_terminal(pid_t group) {
  void (*old)(int) = ::signal(SIGTTOU, SIG_IGN);
  ::tcsetpgrp(STDIN_FILENO, group);
  ::signal(SIGTTOU, old);
}

// While the editor runs: SIGTERM, SIGHUP and SIGINT are passed to it and
// end casectl once the draft is gone. ^C typed in the editor (vi uses it)
// reaches only the editor: it is the terminal's foreground job, casectl is
// not. SIGQUIT is ignored.
class EditorSignals {
 public:
  EditorSignals() {
    g_signal = 0;
    struct sigaction forward {};
    forward.sa_handler = forward_signal;  // no SA_RESTART: waitpid returns EINTR
    sigemptyset(&forward.sa_mask);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    for (std::size_t i = 0; i < kCount; ++i)
      ::sigaction(kSignals[i], kSignals[i] == SIGQUIT ? &ignore : &forward, &old_[i]);
  }
  ~EditorSignals() {
    g_editor = 0;
    for (std::size_t i = 0; i < kCount; ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
  }
  EditorSignals(const EditorSignals&) = delete;
  EditorSignals& operator=(const EditorSignals&) = delete;

  // In the editor's process, before exec: every signal as it was.
  static void reset_in_child() {
    for (int sig : kSignals) ::signal(sig, SIG_DFL);
  }

 private:
  static constexpr std::size_t kCount = 4;
  static constexpr int kSignals[kCount] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT};
  struct sigaction old_[kCount] {};
};

// A directory on a memory file system for the draft, or a refusal naming the fix.
std::string memory_dir() {
  std::error_code ec;
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  std::string base;
  if (xdg && *xdg && std::filesystem::is_directory(xdg, ec)) base = xdg;
  else if (std::filesystem::is_directory("/dev/shm", ec)) base = "/dev/shm";
  else
    fail(ExitCode::refused,
         fmt::format("no memory file system for the reply draft ($XDG_RUNTIME_DIR is not set and there is no "
                     "/dev/shm): {}", kAskForText));
  struct statfs fs {};
  if (::statfs(base.c_str(), &fs) != 0)
    fail(ExitCode::refused, fmt::format("cannot check {}: {}; {}", display_safe(base), std::strerror(errno), kAskForText));
  auto type = static_cast<unsigned long>(fs.f_type);
  if (type != TMPFS_MAGIC && type != RAMFS_MAGIC)
    fail(ExitCode::refused, fmt::format("{} is not a memory file system (tmpfs): the reply draft is kept only in "
                                        "memory; point XDG_RUNTIME_DIR at a tmpfs or {}",
                                        display_safe(base), kAskForText));
  return base;
}

// The draft's directory (mkdtemp: 0700) and file (0600), removed with
// everything an editor left beside it (swap and backup files) at the end.
class DraftDir {
 public:
  explicit DraftDir(const std::string& base) {
    std::string templ = base + "/casectl-reply-XXXXXX";
    if (!::mkdtemp(templ.data()))
      fail(ExitCode::failure, fmt::format("cannot make a draft directory in {}: {}", display_safe(base),
                                          std::strerror(errno)));
    dir_ = templ;
    file_ = dir_ + "/reply.eml";
  }
  ~DraftDir() { remove(); }
  DraftDir(const DraftDir&) = delete;
  DraftDir& operator=(const DraftDir&) = delete;

  const std::string& file() const { return file_; }
  void remove() noexcept {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }

  void write(const std::string& text) const {
    int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) fail(ExitCode::failure, fmt::format("cannot write the draft: {}", std::strerror(errno)));
    bool ok = ::fchmod(fd, 0600) == 0;
    for (std::size_t done = 0; ok && done < text.size();) {
      ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      ok = n > 0;
      if (ok) done += static_cast<std::size_t>(n);
    }
    ok = ::close(fd) == 0 && ok;
    if (!ok) fail(ExitCode::failure, "cannot write the draft");
  }

  // What the editor saved; "" when it removed the file.
  std::string read() const {
    int fd = ::open(file_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return {};
    struct stat st {};
    std::string out;
    bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::size_t>(st.st_size) <= kMaxDraft;
    char buf[65536];
    while (ok) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ok = n == 0;
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
      ok = out.size() <= kMaxDraft;
    }
    ::close(fd);
    if (!ok) fail(ExitCode::failure, fmt::format("cannot read the draft back (a regular file of at most {} bytes)", kMaxDraft));
    return out;
  }

 private:
  std::string dir_, file_;
};

std::string editor_command() {
  for (const char* name : {"VISUAL", "EDITOR"})
    if (const char* v = std::getenv(name); v && *v) return v;
  return "vi";
}

// Waits for the editor; on a forwarded signal gives it two seconds to end, then kills it.
int wait_editor(pid_t pid) {
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, 0);
    if (r == pid) {
      g_editor = 0;  // reaped: its pid may be another process's from now on
      return status;
    }
    if (r < 0 && errno != EINTR) fail(ExitCode::failure, fmt::format("waiting for the editor: {}", std::strerror(errno)));
    if (g_signal == 0) continue;
    ::kill(-pid, g_signal);
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        g_editor = 0;
        return status;
      }
      ::usleep(10000);
    }
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    g_editor = 0;
    return status;
  }
}

// Runs the editor on `path` as git does: sh -c '$EDITOR "$@"' $EDITOR path.
int run_editor(const std::string& editor, const std::string& path) {
  std::string script = editor + " \"$@\"";
  // The terminal passes to the editor's group and back only when it is
  // casectl's controlling terminal with casectl in its foreground (else no
  // read of the editor's is stopped for being in the background).
  const pid_t own_group = ::getpgrp();
  const bool foreground = ::tcgetpgrp(STDIN_FILENO) == own_group;
  pid_t pid = ::fork();
  if (pid < 0) fail(ExitCode::failure, fmt::format("cannot start the editor: {}", std::strerror(errno)));
  if (pid == 0) {
    ::setpgid(0, 0);
    if (foreground) give_terminal(::getpid());
    EditorSignals::reset_in_child();
    ::execl("/bin/sh", "sh", "-c", script.c_str(), editor.c_str(), path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Both sides set the group and the terminal, as shells do: whichever runs first.
  ::setpgid(pid, pid);
  if (foreground) give_terminal(pid);
  g_editor = pid;
  int status = wait_editor(pid);
  if (foreground) give_terminal(own_group);
  return status;
}

std::string trim_end(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return std::string(s);
}

// A signal that came while the editor ran ends casectl as it asks, once the draft is gone.
void end_if_signalled(DraftDir& draft) {
  int sig = g_signal;
  if (sig == 0) return;
  draft.remove();
  std::cerr << "casectl: interrupted; the draft was removed and nothing was sent\n";
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

bool on_terminal() { return ::isatty(STDIN_FILENO) == 1 && ::isatty(STDOUT_FILENO) == 1; }

std::string reply_template(const CaseDetail& d) {
  const MessageView* last = nullptr;
  // The reporter's last word: never a vendor's mail nor an unverified one,
  // nor mail from an address an analyst added with the role vendor.
  auto vendor_role = [&](const MessageView& m) {
    std::string from = normalize_address(m.from);
    return std::any_of(d.participants.begin(), d.participants.end(),
                       [&](const ParticipantView& p) { return p.role == "vendor" && p.address == from; });
  };
  for (const auto& m : d.messages)
    if (m.direction == "in" && message_party(m) == "reporter" && !vendor_role(m)) last = &m;
  if (!last) return "\n";
  std::string who = last->from_name.empty() ? clip(last->from, 200)
                                            : fmt::format("{} <{}>", clip(last->from_name, 80), clip(last->from, 200));
  std::string out = fmt::format("On {}, {} wrote:\n", format_rfc3339(last->date.value_or(last->received)), who);
  std::string body = display_safe(last->body, true);
  std::string_view rest = body;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    out += line.empty() ? ">\n" : "> " + std::string(line) + "\n";
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
  }
  return out + "\n";
}

std::string edit_draft(const std::string& initial) {
  std::string base = memory_dir();
  DraftDir draft(base);
  draft.write(initial);
  const std::string editor = editor_command();
  int status = 0;
  std::string text;
  {
    EditorSignals signals;
    status = run_editor(editor, draft.file());
    end_if_signalled(draft);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) text = draft.read();
    draft.remove();
    end_if_signalled(draft);
  }
  if (WIFSIGNALED(status))
    fail(ExitCode::failure, fmt::format("aborting: the editor ({}) was killed by signal {}; nothing was sent",
                                        display_safe(editor), WTERMSIG(status)));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail(ExitCode::failure, fmt::format("aborting: the editor ({}) exited with status {}; nothing was sent",
                                        display_safe(editor), WEXITSTATUS(status)));
  if (trim_end(text).find_first_not_of(" \t\r\n") == std::string::npos)
    fail(ExitCode::failure, "aborting: the draft is empty; nothing was sent");
  if (trim_end(text) == trim_end(initial)) fail(ExitCode::failure, "aborting: the draft was not changed; nothing was sent");
  return text;
}

}  // namespace cased::cli
