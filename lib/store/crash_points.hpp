// Crash points: the places in the VFS shim (sqlite_vfs.cpp) where a write
// or a sync reaches, or is kept from, a real file. Compiled only with
// CASED_TEST_HOOKS (tests); in a release build every call below is an empty
// inline function and the environment is never read.
//
// The environment, read once, at the first database opened:
//   CASED_CRASH_COUNT=FILE   append "N KIND PATH" to FILE at each point
//   CASED_CRASH_AT=N         at point N, write CASED_CRASH_MARKER=FILE
//                            ("N KIND PATH MODE UNDONE", UNDONE the number
//                            of unsynced changes lost), then SIGKILL this
//                            process: no destructor, no buffered byte
//                            reaches a file
//   CASED_CRASH_MODE=process what the kernel has stays (an application crash)
//                   power    first undo every write since its file's last
//                            successful xSync (a power loss)
//                   torn     as power, but keep a pseudo-random subset of
//                            those writes, some cut at a 512-byte sector
//                            (seeded by N): disks persist in any order
//   CASED_TEST_WAL_AUTOCHECKPOINT=PAGES  every connection checkpoints at
//                            PAGES WAL pages instead of 1000, so that a
//                            small workload checkpoints and restarts the WAL
//
// The undo log (power, torn) holds the old and new bytes of each unsynced
// write; it is kept only while CASED_CRASH_AT is set. Files are found again
// at the crash by their path (opened then, when locks no longer matter).
#pragma once

#include <sqlite3.h>

namespace cased::sql::crash {

enum class Kind {
  write,     // a write passed straight to the file
  flush,     // a coalesced run written to the file
  buffer,    // a write kept in the shim's run, not yet in the file
  sync,      // xSync
  truncate,  // xTruncate
  remove,    // xDelete
};

#ifdef CASED_TEST_HOOKS

// Whether any CASED_CRASH_* variable is set (cheap after the first call).
bool armed();
// A point of `kind` on `path` (null for a temp file: counted, never undone).
void point(Kind kind, const char* path);
// A write or a truncation about to reach `real`: the point, then its undo.
void before_write(Kind kind, sqlite3_file* real, const char* path, const void* data, int n, sqlite3_int64 off);
void before_truncate(sqlite3_file* real, const char* path, sqlite3_int64 size);
// `path` is synced or deleted: its earlier writes survive a power loss.
void synced(const char* path);
// Registers CASED_TEST_WAL_AUTOCHECKPOINT for every later connection.
void install();

#else

inline bool armed() { return false; }
inline void point(Kind, const char*) {}
inline void before_write(Kind, sqlite3_file*, const char*, const void*, int, sqlite3_int64) {}
inline void before_truncate(sqlite3_file*, const char*, sqlite3_int64) {}
inline void synced(const char*) {}
inline void install() {}

#endif

}  // namespace cased::sql::crash
