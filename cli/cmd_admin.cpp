// casectl backup and casectl verify. Files named on the command line are
// written and read with the invoking user's rights (invoker.hpp): under
// sudo as root the copy is made as that user; under sudo to another user,
// who cannot switch, a file by name is refused.
#include "cmd_admin.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "commands.hpp"
#include "core/text.hpp"
#include "progress.hpp"
#include "store/backup.hpp"

namespace cased::cli {
namespace {

// Whether work on `path` must take the invoker's rights (they are not the
// process's own); refused when the process cannot switch to them.
bool switch_needed(const Context& ctx, const std::string& what, const std::string& path) {
  if (ctx.invoker.unrestricted()) return false;
  if (geteuid() != 0)
    fail(ExitCode::refused,
         fmt::format("casectl runs with another user's rights through sudo and cannot {} {} as {}: run it as the "
                     "service user itself (the cased-backup service does), or through sudo as root",
                     what, path, ctx.invoker.user));
  return true;
}

std::unique_ptr<InvokerRights> as_invoker(const Context& ctx, const std::string& what, const std::string& path) {
  return check(InvokerRights::take(ctx.invoker, fmt::format("{} {}", what, path)));
}

nlohmann::json to_json(const BackupSummary& s) {
  return {{"path", s.path},           {"bytes", s.bytes},
          {"cases", s.cases},         {"messages", s.messages},
          {"unindexed", s.unindexed}, {"schema_version", s.schema_version}};
}

nlohmann::json to_json(const VerifyReport& r) {
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : r.problems) problems.push_back({{"check", p.check}, {"detail", p.detail}});
  return {{"database", r.database},   {"ok", r.problems.empty()}, {"schema_version", r.schema_version},
          {"cases", r.cases},         {"messages", r.messages},   {"unindexed", r.unindexed},
          {"problems", problems}};
}

std::string not_indexed(std::int64_t n) {
  return n ? fmt::format(" ({} not yet in the search index: cased adds them when it starts)", n) : std::string();
}

}  // namespace

int cmd_backup(Context& ctx, const Args& a) {
  // The snapshot is opened with casectl's own rights; the copy is written
  // with the invoker's.
  bool as_them = switch_needed(ctx, "write", a.backup_file);
  BackupSource source = check(BackupSource::open(ctx.config.case_.database));
  std::unique_ptr<InvokerRights> rights;
  if (as_them) rights = as_invoker(ctx, "write", a.backup_file);
  Progress progress = Progress::on_terminal({"backing up", "backed up", "pages"});
  BackupSummary s = check(source.write_to(a.backup_file, a.force, [&](std::int64_t done, std::int64_t total) {
    progress.total(static_cast<std::uint64_t>(total));
    progress.update(static_cast<std::uint64_t>(done));
  }));
  progress.finish();
  rights.reset();
  if (ctx.json) {
    print_json(to_json(s));
    return 0;
  }
  std::cout << fmt::format("backed up {} to {}: {} bytes, {} cases, {} messages, schema version {}{}\n",
                           display_safe(ctx.config.case_.database), display_safe(s.path), s.bytes, s.cases,
                           s.messages, s.schema_version, not_indexed(s.unindexed));
  return 0;
}

int cmd_verify(Context& ctx, const Args& a) {
  const std::string& path = a.verify_database.empty() ? ctx.config.case_.database : a.verify_database;
  std::unique_ptr<InvokerRights> rights;
  if (!a.verify_database.empty() && switch_needed(ctx, "read", path)) rights = as_invoker(ctx, "read", path);
  Progress progress = Progress::on_terminal({"verifying", "verify ran", "steps", false});
  int all = 0;
  VerifyReport r = check(verify_database(path, [&](int step, int steps, std::string_view name) {
    all = steps;
    progress.total(static_cast<std::uint64_t>(steps));
    progress.update(static_cast<std::uint64_t>(step), std::nullopt, name);
  }));
  progress.update(static_cast<std::uint64_t>(all));
  progress.finish();
  rights.reset();
  if (ctx.json) {
    print_json(to_json(r));
  } else if (r.problems.empty()) {
    std::cout << fmt::format("ok: {}: schema version {}, {} cases, {} messages{}\n", display_safe(path),
                             r.schema_version, r.cases, r.messages, not_indexed(r.unindexed));
  } else {
    for (const auto& p : r.problems) std::cout << fmt::format("{}: {}\n", p.check, display_safe(p.detail));
  }
  return r.problems.empty() ? 0 : static_cast<int>(ExitCode::failure);
}

}  // namespace cased::cli
