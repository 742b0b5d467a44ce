// Long text for a terminal through the user's pager, as git does.
#pragma once

#include <string>

namespace cased::cli {

// Writes `text` to stdout; when stdout is a terminal, through $PAGER
// (default "less -FRX", run by /bin/sh; PAGER=cat or an empty PAGER pages
// nothing), waiting for it to end. A pager quit before the end (q in less)
// is no error: what it did not read is dropped without SIGPIPE.
void page(const std::string& text);

}  // namespace cased::cli
