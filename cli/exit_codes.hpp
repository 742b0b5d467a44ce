// casectl's exit statuses: this one table decides them, --help prints it and
// docs/contract.md documents it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace cased::cli {

enum class ExitCode : int {
  ok = 0,
  failure = 1,     // anything not below: a failed send, an unreadable file, a broken invariant
  usage = 2,       // bad arguments or input: nothing was done
  not_found = 3,   // no such case or outbox entry
  refused = 4,     // a rule says no: no usable key, a database this program cannot use
  temporary = 75,  // try again later: the database is busy, the disk full (sysexits EX_TEMPFAIL)
};

struct ExitRow {
  ExitCode code;
  std::string_view meaning;
};

const std::vector<ExitRow>& exit_table();

// The status for an error the library returned.
ExitCode exit_for(Errc code);

// The table as text, for --help.
std::string exit_help();

}  // namespace cased::cli
