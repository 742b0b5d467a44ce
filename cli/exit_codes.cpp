#include "exit_codes.hpp"

#include <fmt/format.h>

namespace cased::cli {

const std::vector<ExitRow>& exit_table() {
  static const std::vector<ExitRow> table = {
      {ExitCode::ok, "done"},
      {ExitCode::failure, "failed"},
      {ExitCode::usage, "usage error: bad arguments or input, nothing done"},
      {ExitCode::not_found, "no such case or outbox entry"},
      {ExitCode::refused, "refused: no usable key, or a database this program cannot use"},
      {ExitCode::temporary, "temporary failure (database busy, disk full): try again later"},
  };
  return table;
}

ExitCode exit_for(Errc code) {
  switch (code) {
    case Errc::temporary:
    case Errc::full:
    case Errc::busy:
    case Errc::unavailable: return ExitCode::temporary;
    case Errc::not_found: return ExitCode::not_found;
    case Errc::refused: return ExitCode::refused;
    case Errc::invalid:
    case Errc::internal: return ExitCode::failure;
  }
  return ExitCode::failure;
}

std::string exit_help() {
  std::string out = "Exit status:\n";
  for (const auto& row : exit_table()) out += fmt::format("  {:>3}  {}\n", static_cast<int>(row.code), row.meaning);
  return out;
}

}  // namespace cased::cli
