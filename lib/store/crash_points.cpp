#include "store/crash_points.hpp"

#ifdef CASED_TEST_HOOKS

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace cased::sql::crash {
namespace {

enum class Mode { process, power, torn };

// One unsynced change to a file: bytes [off, off + old.size()) were `old`
// in a file of `old_size` bytes; the change wrote `fresh` at `off` (a write)
// or cut the file to `new_size` (a truncation, `fresh` empty).
struct Change {
  std::string path;
  sqlite3_int64 off = 0;
  sqlite3_int64 old_size = 0;
  sqlite3_int64 new_size = -1;  // >= 0: a truncation
  std::vector<unsigned char> old;
  std::vector<unsigned char> fresh;
};

struct State {
  bool armed = false;
  int trace = -1;              // CASED_CRASH_COUNT, O_APPEND
  std::uint64_t at = 0;        // CASED_CRASH_AT; 0: never
  std::string marker;          // CASED_CRASH_MARKER
  Mode mode = Mode::process;
  int autocheckpoint = 0;      // CASED_TEST_WAL_AUTOCHECKPOINT
  std::uint64_t count = 0;
  std::vector<Change> unsynced;  // only while `at` is set and mode is not process
  std::mutex mu;
};

State& state() {
  static State* s = [] {
    auto* st = new State;  // never destroyed: points may come from any thread until exit
    auto env = [](const char* name) {
      const char* v = std::getenv(name);
      return std::string(v ? v : "");
    };
    if (auto f = env("CASED_CRASH_COUNT"); !f.empty())
      st->trace = ::open(f.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (auto n = env("CASED_CRASH_AT"); !n.empty()) st->at = std::strtoull(n.c_str(), nullptr, 10);
    st->marker = env("CASED_CRASH_MARKER");
    auto mode = env("CASED_CRASH_MODE");
    st->mode = mode == "power" ? Mode::power : mode == "torn" ? Mode::torn : Mode::process;
    if (auto p = env("CASED_TEST_WAL_AUTOCHECKPOINT"); !p.empty()) st->autocheckpoint = std::atoi(p.c_str());
    st->armed = st->trace >= 0 || st->at > 0;
    return st;
  }();
  return *s;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::write: return "write";
    case Kind::flush: return "flush";
    case Kind::buffer: return "buffer";
    case Kind::sync: return "sync";
    case Kind::truncate: return "truncate";
    case Kind::remove: return "delete";
  }
  return "?";
}

void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

void pwrite_all(int fd, const unsigned char* p, std::size_t n, sqlite3_int64 off) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, off);
    if (w <= 0) return;
    p += w;
    n -= static_cast<std::size_t>(w);
    off += w;
  }
}

// A file opened by path at the crash, when its locks no longer matter.
struct Opened {
  int fd;
  explicit Opened(const std::string& path) : fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC)) {}
  ~Opened() {
    if (fd >= 0) ::close(fd);
  }
  Opened(const Opened&) = delete;
  Opened& operator=(const Opened&) = delete;
};

bool cut(int fd, sqlite3_int64 size) { return ::ftruncate(fd, size) == 0; }

// The file as it was before `c` (its size first, then its bytes).
void undo(const Change& c) {
  Opened f(c.path);
  if (f.fd >= 0 && cut(f.fd, c.old_size)) pwrite_all(f.fd, c.old.data(), c.old.size(), c.off);
}

// `c` again, or its first `keep` bytes.
void redo(const Change& c, std::size_t keep) {
  Opened f(c.path);
  if (f.fd < 0) return;
  if (c.new_size >= 0) static_cast<void>(cut(f.fd, c.new_size));
  else pwrite_all(f.fd, c.fresh.data(), std::min(keep, c.fresh.size()), c.off);
}

// What a power loss leaves: every unsynced change undone, newest first;
// torn then puts back a random subset in order, a write whole or cut at a
// sector boundary.
void lose_power(State& s) {
  for (auto c = s.unsynced.rbegin(); c != s.unsynced.rend(); ++c) undo(*c);
  if (s.mode != Mode::torn) return;
  std::mt19937_64 rng(s.at);
  for (const auto& c : s.unsynced) {
    switch (rng() % 3) {
      case 0: break;  // lost
      case 1: redo(c, c.fresh.size()); break;
      default: {
        // The first sector boundary after off, up to the write's end.
        auto first = static_cast<std::size_t>(512 - c.off % 512);
        if (c.fresh.size() <= first) break;
        std::size_t sectors = (c.fresh.size() - first) / 512 + 1;
        redo(c, first + 512 * (rng() % sectors));
      }
    }
  }
}

[[noreturn]] void crash(State& s, const std::string& line) {
  if (s.mode != Mode::process) lose_power(s);
  if (!s.marker.empty()) {
    int fd = ::open(s.marker.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const char* mode = s.mode == Mode::process ? "process" : s.mode == Mode::power ? "power" : "torn";
    // "N KIND PATH MODE UNDONE": the point, the mode, the unsynced changes undone.
    if (fd >= 0) write_all(fd, fmt::format("{} {} {}\n", line.substr(0, line.size() - 1), mode, s.unsynced.size()));
    // Not closed: the process ends at the next line.
  }
  for (;;) ::kill(::getpid(), SIGKILL);
}

void count(State& s, Kind kind, const char* path) {
  ++s.count;
  std::string line = std::to_string(s.count) + " " + kind_name(kind) + " " + (path ? path : "-") + "\n";
  if (s.trace >= 0) write_all(s.trace, line);
  if (s.count == s.at) crash(s, line);
}

bool keeps_undo(const State& s) { return s.at > 0 && s.mode != Mode::process; }

// The file's size and the bytes [off, off + n) that exist, from the real file.
Change read_old(sqlite3_file* real, const char* path, sqlite3_int64 off, sqlite3_int64 n) {
  Change c;
  c.path = path;
  c.off = off;
  if (real->pMethods->xFileSize(real, &c.old_size) != SQLITE_OK) c.old_size = 0;
  sqlite3_int64 have = std::clamp<sqlite3_int64>(c.old_size - off, 0, n);
  c.old.resize(static_cast<std::size_t>(have));
  if (have > 0 && real->pMethods->xRead(real, c.old.data(), static_cast<int>(have), off) != SQLITE_OK)
    std::fill(c.old.begin(), c.old.end(), 0);
  return c;
}

// sqlite3_open_v2 sets the default autocheckpoint after it runs the
// automatic extensions, so the extension sets it at each commit instead,
// from a commit hook (a pointer assignment, before the WAL hook runs).
int set_autocheckpoint(sqlite3* db, char**, const sqlite3_api_routines*) {
  sqlite3_commit_hook(
      db,
      [](void* arg) {
        sqlite3_wal_autocheckpoint(static_cast<sqlite3*>(arg), state().autocheckpoint);
        return 0;
      },
      db);
  return SQLITE_OK;
}

}  // namespace

bool armed() { return state().armed; }

void point(Kind kind, const char* path) {
  State& s = state();
  if (!s.armed) return;
  std::lock_guard lock(s.mu);
  count(s, kind, path);
}

void before_write(Kind kind, sqlite3_file* real, const char* path, const void* data, int n, sqlite3_int64 off) {
  State& s = state();
  if (!s.armed) return;
  std::lock_guard lock(s.mu);
  count(s, kind, path);
  if (!path || !keeps_undo(s)) return;
  Change c = read_old(real, path, off, n);
  const auto* p = static_cast<const unsigned char*>(data);
  c.fresh.assign(p, p + n);
  s.unsynced.push_back(std::move(c));
}

void before_truncate(sqlite3_file* real, const char* path, sqlite3_int64 size) {
  State& s = state();
  if (!s.armed) return;
  std::lock_guard lock(s.mu);
  count(s, Kind::truncate, path);
  if (!path || !keeps_undo(s)) return;
  sqlite3_int64 old_size = 0;
  if (real->pMethods->xFileSize(real, &old_size) != SQLITE_OK || old_size <= size) return;
  Change c = read_old(real, path, size, old_size - size);
  c.new_size = size;
  s.unsynced.push_back(std::move(c));
}

void synced(const char* path) {
  State& s = state();
  if (!s.armed || !path) return;
  std::lock_guard lock(s.mu);
  std::erase_if(s.unsynced, [&](const Change& c) { return c.path == path; });
}

void install() {
  if (state().autocheckpoint > 0)
    sqlite3_auto_extension(reinterpret_cast<void (*)()>(set_autocheckpoint));
}

}  // namespace cased::sql::crash

#endif  // CASED_TEST_HOOKS
