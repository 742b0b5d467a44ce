// A write-coalescing shim over the default SQLite VFS.
//
// What is buffered: writes to a WAL file, and writes to its main database
// file while that WAL is open (in WAL mode the database is only written by
// checkpoints). A write that starts inside or right at the end of the
// buffered run joins it, as long as the run stays within kMaxRun; any other
// write first flushes the run. Journals, temp files and a database in
// rollback-journal mode pass straight through: there the commit point is the
// journal's deletion, which a file-level shim cannot see, so with
// synchronous=OFF a buffered database write could outlive its journal.
//
// When the buffered bytes reach the file (one real write per run):
//  - after the page of a WAL commit frame, so the commit's own xWrite
//    reports a failed write (as without this shim) at any synchronous
//    setting, and before xSync: nothing is acknowledged before its frames
//    are written and synced;
//  - before xRead of a range at or past the run, xTruncate, xFileSize,
//    xLock/xUnlock/xCheckReservedLock, xFileControl (a checkpoint reports
//    SQLITE_FCNTL_CKPT_DONE before it records its progress), xFetch and
//    xUnfetch, and xClose;
//  - before the main database's xShmBarrier and xShmLock, for the WAL too.
//    Other connections and processes find WAL frames and checkpointed pages
//    through the wal-index in shared memory; SQLite publishes a new header
//    only after xShmBarrier and changes checkpoint state under xShmLock, so
//    the bytes are in the file before anyone is told about them, whatever
//    the synchronous setting.
// A crash before a flush is the same as a crash before the write: the WAL's
// checksums discard a torn or missing tail, and a checkpoint's progress is
// only recorded after its pages were flushed.
//
// A failed flush drops the run and returns the error. Kept and retried
// later, it would land over bytes written since: SQLite rolls back the
// transaction (or abandons the checkpoint) whose bytes they were and reuses
// those offsets, from this connection or from another with its own handle
// on the same file (in cased, the outbox worker), so a late retry wrote
// stale frames over committed ones. Where the error cannot reach SQLite
// (xShmBarrier returns nothing; xClose, unlocks and file-control hints such
// as SQLITE_FCNTL_CKPT_DONE are not checked), it is kept as the file's
// `lost` error and returned by its next xWrite, xSync or xTruncate, so
// nothing written after the lost bytes is acknowledged: a commit frame's
// write fails its transaction, and a checkpoint fails at the database's
// xSync or xTruncate before it records its progress.
//
// Reads are joined too, in one place: a checkpoint copies every WAL frame
// it backfills with a read of its own (about 1,000 reads of 4 KiB for
// SQLite's default 4 MB WAL, a fifth of the writer's system calls). Between
// the SQLITE_FCNTL_CKPT_START and CKPT_DONE that SQLite sends the main
// database, the WAL's reads are served from a few windows of kWindow bytes,
// each filled with one read: the checkpoint reads frames in page order,
// which in the WAL is a few nearly sequential streams. Those frames are
// committed and cannot change while the checkpoint runs (a WAL restart
// needs a finished checkpoint); any write to the WAL drops the windows.
//
// Each connection uses its files from one thread at a time (SQLite's own
// rule for a connection), so the per-file state needs no lock.
//
// In a test build (CASED_TEST_HOOKS) every write that reaches a file, every
// write kept in a run, and every xSync, xTruncate and xDelete is a crash
// point (crash_points.hpp): tests/e2e/test_crash_points.py stops the
// process at each one, with and without losing what was not yet synced.
#include "store/sqlite_vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.hpp"
#include "store/crash_points.hpp"

namespace cased::sql {
namespace {

constexpr const char* kName = "cased-coalesce";
// The largest write the unix VFS accepts: it masks the length of each write
// with 0x1ffff (os_unix.c, seekAndWriteFd) and answers SQLITE_FULL to more,
// as SQLite itself never writes more than a 64 KiB page at once. 31 frames
// or pages of 4 KiB: a 64 KB message's commit is 2 writes instead of ~92.
constexpr std::size_t kMaxRun = 0x1ffff;
// SQLite writes a WAL frame as its 24-byte header, then the page; bytes 4-7
// of the header are nonzero only in a commit frame (the database size).
constexpr std::size_t kFrameHeader = 24;
// Checkpoint read windows: 4 x 256 KiB, from the heap, only while one runs.
constexpr std::size_t kWindow = 256 * 1024;
constexpr std::size_t kWindows = 4;

struct ReadWindow {
  sqlite3_int64 start = 0;
  std::vector<unsigned char> bytes;
  std::uint64_t last_use = 0;
  bool holds(sqlite3_int64 off, int n) const {
    return !bytes.empty() && off >= start && off + n <= start + static_cast<sqlite3_int64>(bytes.size());
  }
};

extern const sqlite3_io_methods kMethods;

// Our sqlite3_file. SQLite allocates vfs.szOsFile zeroed bytes; we put this
// at the start and the wrapped file's object after it.
struct File {
  sqlite3_file base;  // first: what SQLite sees; base.pMethods is &kMethods
  sqlite3_file* real = nullptr;
  const char* name = nullptr;  // SQLite keeps it valid until xClose; null for a temp file
  // A WAL and its main database point at each other while both are open;
  // only a linked file buffers its writes.
  File* peer = nullptr;
  bool wal = false;
  bool commit_frame = false;  // the last write was a commit frame's header
  std::vector<unsigned char> run;  // bytes not yet written, for offset `start`
  sqlite3_int64 start = 0;
  int lost = SQLITE_OK;  // a failed flush's error that SQLite has not been given
  bool checkpointing = false;  // a WAL whose database is being checkpointed
  std::array<ReadWindow, kWindows> windows;
  std::uint64_t reads = 0;
};
// Standard layout makes File* and its first member's address interchangeable.
static_assert(std::is_standard_layout_v<File>);

// The real file sits after ours, at an offset that keeps it 8-byte aligned
// (SQLite's allocator guarantees no more than that, and needs no more).
constexpr std::size_t kRealOffset = (sizeof(File) + 7) & ~std::size_t{7};

File* self(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
const sqlite3_io_methods* real_methods(File* f) { return f->real->pMethods; }

// `reported`: the caller returns the error to SQLite, which then fails
// what it was doing; otherwise the next checked write path returns it.
int flush(File* f, bool reported = true) {
  if (!f || f->run.empty()) return SQLITE_OK;
  crash::before_write(crash::Kind::flush, f->real, f->name, f->run.data(), static_cast<int>(f->run.size()), f->start);
  int rc = real_methods(f)->xWrite(f->real, f->run.data(), static_cast<int>(f->run.size()), f->start);
  f->run.clear();  // keeps the capacity for the next run; never written late
  if (rc != SQLITE_OK && !reported) f->lost = rc;
  return rc;
}

// The error of a flush that SQLite was not given, once.
int take_lost(File* f) {
  int rc = f->lost;
  f->lost = SQLITE_OK;
  return rc;
}

void drop_windows(File* f) {
  for (auto& w : f->windows) std::vector<unsigned char>().swap(w.bytes);
}

// This file's run and its peer's: what must be in the files before the
// wal-index changes.
int flush_linked(File* f, bool reported) {
  int rc = flush(f->peer, false);  // the peer's own calls never see this error
  int rc2 = flush(f, reported);
  return rc != SQLITE_OK ? rc : rc2;
}

// A run that cannot be written at close is lost with the file; the error is
// returned, though SQLite has no use for it at that point.
int x_close(sqlite3_file* pf) {
  File* f = self(pf);
  int rc = flush(f, false);
  if (f->peer) {
    f->peer->peer = nullptr;
    f->peer->checkpointing = false;
    drop_windows(f->peer);
  }
  int rc2 = real_methods(f)->xClose(f->real);
  f->~File();
  return rc != SQLITE_OK ? rc : rc2;
}

// A checkpoint's read of a WAL frame, from a window; false when it cannot
// be served that way (then the caller reads as usual).
bool read_from_window(File* f, void* out, int n, sqlite3_int64 off) {
  ++f->reads;
  for (auto& w : f->windows) {
    if (w.holds(off, n)) {
      std::memcpy(out, w.bytes.data() + (off - w.start), static_cast<std::size_t>(n));
      w.last_use = f->reads;
      return true;
    }
  }
  sqlite3_int64 size = 0;
  if (real_methods(f)->xFileSize(f->real, &size) != SQLITE_OK || off + n > size) return false;
  auto& w = *std::min_element(f->windows.begin(), f->windows.end(),
                              [](const ReadWindow& a, const ReadWindow& b) { return a.last_use < b.last_use; });
  auto len = static_cast<std::size_t>(std::min<sqlite3_int64>(std::max<std::size_t>(kWindow, n), size - off));
  try {
    w.bytes.resize(len);
  } catch (const std::bad_alloc&) {
    w.bytes.clear();
    return false;
  }
  if (real_methods(f)->xRead(f->real, w.bytes.data(), static_cast<int>(len), off) != SQLITE_OK) {
    w.bytes.clear();
    return false;
  }
  w.start = off;
  w.last_use = f->reads;
  std::memcpy(out, w.bytes.data(), static_cast<std::size_t>(n));
  return true;
}

int x_read(sqlite3_file* pf, void* out, int n, sqlite3_int64 off) {
  File* f = self(pf);
  // A read reaching the run, or past it (where the file may not be long
  // enough yet), must see the file as SQLite believes it is.
  if (!f->run.empty() && off + n > f->start) {
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
  }
  if (f->checkpointing && read_from_window(f, out, n, off)) return SQLITE_OK;
  return real_methods(f)->xRead(f->real, out, n, off);
}

int x_write(sqlite3_file* pf, const void* data, int n, sqlite3_int64 off) {
  File* f = self(pf);
  if (int rc = take_lost(f); rc != SQLITE_OK) return rc;
  if (f->checkpointing) {
    f->checkpointing = false;
    drop_windows(f);
  }
  auto len = static_cast<std::size_t>(n);
  auto end = f->start + static_cast<sqlite3_int64>(f->run.size());
  // Joining the run also covers writes inside it: SQLite rewrites frames it
  // wrote earlier in the same transaction when a page is spilled twice.
  bool joins = f->peer && !f->run.empty() && off >= f->start && off <= end &&
               static_cast<std::size_t>(off - f->start) + len <= kMaxRun;
  if (!joins) {
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
    if (!f->peer || len > kMaxRun) {
      crash::before_write(crash::Kind::write, f->real, f->name, data, n, off);
      return real_methods(f)->xWrite(f->real, data, n, off);
    }
    f->start = off;
  }
  auto at = static_cast<std::size_t>(off - f->start);
  try {
    if (at + len > f->run.size()) f->run.resize(at + len);
  } catch (const std::bad_alloc&) {
    return SQLITE_IOERR_NOMEM;
  }
  crash::point(crash::Kind::buffer, f->name);
  std::memcpy(f->run.data() + at, data, len);
  if (!f->wal) return SQLITE_OK;
  if (f->commit_frame) {
    f->commit_frame = false;
    return flush(f);
  }
  const auto* bytes = static_cast<const unsigned char*>(data);
  f->commit_frame = len == kFrameHeader && (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* pf, sqlite3_int64 size) {
  File* f = self(pf);
  if (f->checkpointing) {
    f->checkpointing = false;
    drop_windows(f);
  }
  if (int rc = take_lost(f); rc != SQLITE_OK) return rc;
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  crash::before_truncate(f->real, f->name, size);
  return real_methods(f)->xTruncate(f->real, size);
}

int x_sync(sqlite3_file* pf, int flags) {
  File* f = self(pf);
  if (int rc = take_lost(f); rc != SQLITE_OK) return rc;
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  crash::point(crash::Kind::sync, f->name);
  int rc = real_methods(f)->xSync(f->real, flags);
  if (rc == SQLITE_OK) crash::synced(f->name);
  return rc;
}

int x_file_size(sqlite3_file* pf, sqlite3_int64* size) {
  File* f = self(pf);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xFileSize(f->real, size);
}

int x_lock(sqlite3_file* pf, int level) {
  File* f = self(pf);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xLock(f->real, level);
}

// Unlocking always happens, even when the flush fails: SQLite records the
// lock as released whatever we return.
int x_unlock(sqlite3_file* pf, int level) {
  File* f = self(pf);
  int rc = flush(f, false);
  int rc2 = real_methods(f)->xUnlock(f->real, level);
  return rc != SQLITE_OK ? rc : rc2;
}

int x_check_reserved_lock(sqlite3_file* pf, int* out) {
  File* f = self(pf);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xCheckReservedLock(f->real, out);
}

int x_file_control(sqlite3_file* pf, int op, void* arg) {
  File* f = self(pf);
  // Hints (SQLITE_FCNTL_CKPT_DONE among them) are sent without a look at
  // the result.
  if (int rc = flush(f, false); rc != SQLITE_OK) return rc;
  if (f->peer && !f->wal && (op == SQLITE_FCNTL_CKPT_START || op == SQLITE_FCNTL_CKPT_DONE)) {
    f->peer->checkpointing = op == SQLITE_FCNTL_CKPT_START;
    if (!f->peer->checkpointing) drop_windows(f->peer);
  }
  return real_methods(f)->xFileControl(f->real, op, arg);
}

int x_sector_size(sqlite3_file* pf) {
  File* f = self(pf);
  return real_methods(f)->xSectorSize(f->real);
}

int x_device_characteristics(sqlite3_file* pf) {
  File* f = self(pf);
  return real_methods(f)->xDeviceCharacteristics(f->real);
}

// Our methods are version 3; the shm and fetch calls exist on the real file
// only if its methods are at least version 2 and 3.
int x_shm_map(sqlite3_file* pf, int page, int page_size, int extend, void volatile** out) {
  File* f = self(pf);
  if (real_methods(f)->iVersion < 2) return SQLITE_IOERR_SHMMAP;
  return real_methods(f)->xShmMap(f->real, page, page_size, extend, out);
}

int x_shm_lock(sqlite3_file* pf, int offset, int n, int flags) {
  File* f = self(pf);
  if (real_methods(f)->iVersion < 2) return SQLITE_IOERR_SHMLOCK;
  int rc = flush_linked(f, !(flags & SQLITE_SHM_UNLOCK));
  if (rc != SQLITE_OK && !(flags & SQLITE_SHM_UNLOCK)) return rc;
  int rc2 = real_methods(f)->xShmLock(f->real, offset, n, flags);
  return rc != SQLITE_OK ? rc : rc2;
}

void x_shm_barrier(sqlite3_file* pf) {
  File* f = self(pf);
  // Nothing can be returned from here: a failed flush is the files' `lost`
  // error.
  flush_linked(f, false);
  if (real_methods(f)->iVersion >= 2) real_methods(f)->xShmBarrier(f->real);
}

int x_shm_unmap(sqlite3_file* pf, int delete_flag) {
  File* f = self(pf);
  if (real_methods(f)->iVersion < 2) return SQLITE_OK;
  return real_methods(f)->xShmUnmap(f->real, delete_flag);
}

int x_fetch(sqlite3_file* pf, sqlite3_int64 off, int n, void** out) {
  File* f = self(pf);
  *out = nullptr;
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  if (real_methods(f)->iVersion < 3) return SQLITE_OK;  // SQLite then uses xRead
  return real_methods(f)->xFetch(f->real, off, n, out);
}

int x_unfetch(sqlite3_file* pf, sqlite3_int64 off, void* page) {
  File* f = self(pf);
  int rc = flush(f, false);
  int rc2 = real_methods(f)->iVersion < 3 ? SQLITE_OK : real_methods(f)->xUnfetch(f->real, off, page);
  return rc != SQLITE_OK ? rc : rc2;
}

const sqlite3_io_methods kMethods = {
    .iVersion = 3,
    .xClose = x_close,
    .xRead = x_read,
    .xWrite = x_write,
    .xTruncate = x_truncate,
    .xSync = x_sync,
    .xFileSize = x_file_size,
    .xLock = x_lock,
    .xUnlock = x_unlock,
    .xCheckReservedLock = x_check_reserved_lock,
    .xFileControl = x_file_control,
    .xSectorSize = x_sector_size,
    .xDeviceCharacteristics = x_device_characteristics,
    .xShmMap = x_shm_map,
    .xShmLock = x_shm_lock,
    .xShmBarrier = x_shm_barrier,
    .xShmUnmap = x_shm_unmap,
    .xFetch = x_fetch,
    .xUnfetch = x_unfetch,
};

sqlite3_vfs* real_vfs(sqlite3_vfs* ours) { return static_cast<sqlite3_vfs*>(ours->pAppData); }

int x_open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* pf, int flags, int* out_flags) {
  File* f = new (pf) File{};
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<unsigned char*>(pf) + kRealOffset);
  sqlite3_vfs* real = real_vfs(vfs);
  int rc = real->xOpen(real, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    // SQLite does not call xClose on a failed open whose pMethods is null.
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);
    f->~File();
    pf->pMethods = nullptr;
    return rc;
  }
  f->base.pMethods = &kMethods;
  f->name = name;
  if (flags & SQLITE_OPEN_WAL) {
    // SQLite opens the WAL by its pager, whose main database file (opened
    // through this VFS too) it finds from the WAL's name.
    sqlite3_file* db = sqlite3_database_file_object(name);
    if (db && db->pMethods == &kMethods) {
      File* main = self(db);
      f->wal = true;
      f->peer = main;
      main->peer = f;
    }
  }
  return SQLITE_OK;
}

// Everything but xOpen is the real VFS's, called with the real VFS.
sqlite3_vfs make_vfs(sqlite3_vfs* real) {
  sqlite3_vfs v{};
  v.iVersion = std::min(real->iVersion, 3);
  v.szOsFile = static_cast<int>(kRealOffset) + real->szOsFile;
  v.mxPathname = real->mxPathname;
  v.zName = kName;
  v.pAppData = real;
  v.xOpen = x_open;
  v.xDelete = [](sqlite3_vfs* vfs, const char* name, int sync_dir) {
    crash::point(crash::Kind::remove, name);
    int rc = real_vfs(vfs)->xDelete(real_vfs(vfs), name, sync_dir);
    crash::synced(name);  // gone: nothing of it is left to undo
    return rc;
  };
  v.xAccess = [](sqlite3_vfs* vfs, const char* name, int flags, int* out) {
    return real_vfs(vfs)->xAccess(real_vfs(vfs), name, flags, out);
  };
  v.xFullPathname = [](sqlite3_vfs* vfs, const char* name, int n, char* out) {
    return real_vfs(vfs)->xFullPathname(real_vfs(vfs), name, n, out);
  };
  v.xDlOpen = [](sqlite3_vfs* vfs, const char* name) { return real_vfs(vfs)->xDlOpen(real_vfs(vfs), name); };
  v.xDlError = [](sqlite3_vfs* vfs, int n, char* out) { real_vfs(vfs)->xDlError(real_vfs(vfs), n, out); };
  v.xDlSym = [](sqlite3_vfs* vfs, void* handle, const char* sym) {
    return real_vfs(vfs)->xDlSym(real_vfs(vfs), handle, sym);
  };
  v.xDlClose = [](sqlite3_vfs* vfs, void* handle) { real_vfs(vfs)->xDlClose(real_vfs(vfs), handle); };
  v.xRandomness = [](sqlite3_vfs* vfs, int n, char* out) {
    return real_vfs(vfs)->xRandomness(real_vfs(vfs), n, out);
  };
  v.xSleep = [](sqlite3_vfs* vfs, int us) { return real_vfs(vfs)->xSleep(real_vfs(vfs), us); };
  v.xCurrentTime = [](sqlite3_vfs* vfs, double* out) { return real_vfs(vfs)->xCurrentTime(real_vfs(vfs), out); };
  v.xGetLastError = [](sqlite3_vfs* vfs, int n, char* out) {
    return real_vfs(vfs)->xGetLastError(real_vfs(vfs), n, out);
  };
  if (v.iVersion >= 2) {
    v.xCurrentTimeInt64 = [](sqlite3_vfs* vfs, sqlite3_int64* out) {
      return real_vfs(vfs)->xCurrentTimeInt64(real_vfs(vfs), out);
    };
  }
  if (v.iVersion >= 3) {
    v.xSetSystemCall = [](sqlite3_vfs* vfs, const char* name, sqlite3_syscall_ptr fn) {
      return real_vfs(vfs)->xSetSystemCall(real_vfs(vfs), name, fn);
    };
    v.xGetSystemCall = [](sqlite3_vfs* vfs, const char* name) {
      return real_vfs(vfs)->xGetSystemCall(real_vfs(vfs), name);
    };
    v.xNextSystemCall = [](sqlite3_vfs* vfs, const char* name) {
      return real_vfs(vfs)->xNextSystemCall(real_vfs(vfs), name);
    };
  }
  return v;
}

}  // namespace

const char* coalescing_vfs() {
  static std::once_flag once;
  static sqlite3_vfs vfs{};
  static int rc = SQLITE_OK;
  std::call_once(once, [] {
    sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
    if (!real) {
      rc = SQLITE_ERROR;
      return;
    }
    vfs = make_vfs(real);
    rc = sqlite3_vfs_register(&vfs, 0);
    crash::install();
  });
  if (rc != SQLITE_OK) throw StoreError(Errc::internal, "cannot register the SQLite VFS " + std::string(kName));
  return kName;
}

}  // namespace cased::sql
