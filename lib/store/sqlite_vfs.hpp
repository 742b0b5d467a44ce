// An SQLite VFS that wraps the default one and turns runs of contiguous
// writes to a database and its WAL into one write each. SQLite writes a WAL
// frame as two calls (24-byte header, then the page) and checkpoints one page
// per call; on this VM every syscall is expensive, so a 64 KB message cost
// ~190 pwrites. See sqlite_vfs.cpp for when the buffered bytes reach the file.
#pragma once

namespace cased::sql {

// The VFS name to pass to sqlite3_open_v2. Registers it (not as the default)
// on the first call; throws StoreError if there is no default VFS to wrap.
const char* coalescing_vfs();

}  // namespace cased::sql
