// Triage: `status` with its resolution, `tag`, and the options they take.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>

#include "cases/triage.hpp"
#include "commands.hpp"
#include "core/text.hpp"
#include "core/util.hpp"

namespace cased::cli {
namespace {

// After a change: the case as `show --json` prints it, or the line `text`.
void print_case_or(Context& ctx, Store& s, std::int64_t case_id, const std::string& text) {
  if (ctx.json) print_json(to_json(check(s.get_case(case_id))));
  else std::cout << text << "\n";
}

std::vector<Store::TagEdit> tag_edits(const std::vector<std::string>& words) {
  std::vector<Store::TagEdit> out;
  for (const auto& w : words) {
    if (w.empty() || (w.front() != '+' && w.front() != '-'))
      fail(ExitCode::usage, fmt::format("tag: '{}' is neither +TAG (add) nor -TAG (remove)", display_safe(w)));
    std::string tag = w.substr(1);
    if (auto problem = tag_problem(tag)) fail(ExitCode::usage, fmt::format("tag: {}; no tag changed", *problem));
    out.push_back({w.front() == '+', std::move(tag)});
  }
  return out;
}

}  // namespace

void status_options(CLI::App& c, Args& a) {
  c.add_option("ID", a.case_id, "case id")->required();
  c.add_option("STATE", a.arg2, "new state")->required()->check(CLI::IsMember(case_states()));
  auto* reason = c.add_option("--reason", a.reason, "why it is closed (resolved or rejected only)")
                     ->check(CLI::IsMember(resolutions()));
  c.add_option("-m", a.text, "a comment with the change");
  c.callback([&a, reason] {
    if (reason->count() > 0 && !closed_state(a.arg2))
      fail(ExitCode::usage, fmt::format("status: --reason says why a case is closed: only with resolved or "
                                        "rejected, not {}",
                                        a.arg2));
  });
}

void tag_options(CLI::App& c, Args& a) {
  c.add_option("ID", a.case_id, "case id")->required();
  c.add_option("CHANGES", a.tag_changes, "+TAG adds, -TAG removes (a lower-case word: a-z 0-9 . _ -)");
  c.callback([&a] {
    if (a.tag_changes.empty()) fail(ExitCode::usage, "tag: give +TAG to add or -TAG to remove, one or more");
  });
}

// A tag a filter names (list --tag): any case, checked as a tag.
void tag_filter_option(CLI::App& c, std::vector<std::string>& into, const std::string& help) {
  c.add_option("--tag", into, help)
      ->transform(CLI::Validator(
          [](std::string& v) -> std::string {
            v = to_lower(v);
            auto problem = tag_problem(v);
            return problem ? *problem : std::string();
          },
          "TAG", "tag"))
      ->type_name("TAG");
}

std::vector<std::string> positional_tag_changes(const std::vector<std::string>& words) {
  std::size_t command = 0;
  while (command < words.size() && (words[command].empty() || words[command].front() == '-'))
    command += words[command] == "--config" ? 2 : 1;
  if (command >= words.size() || words[command] != "tag") return words;
  std::vector<std::string> out(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(command) + 1);
  std::vector<std::string> rest;
  for (std::size_t i = command + 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "--json" || w == "--help" || w == "-h" || w.rfind("--config=", 0) == 0) out.push_back(w);
    else if (w == "--config" && i + 1 < words.size()) {
      out.push_back(w);
      out.push_back(words[++i]);
    } else if (w != "--") rest.push_back(w);
  }
  if (rest.empty()) return out;
  out.emplace_back("--");
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

int cmd_status(Context& ctx, const Args& a) {
  Store s = ctx.store();
  auto case_id = parse_case_id(a.case_id, ctx.tag());
  Store::StatusChange change{a.arg2, std::nullopt, std::nullopt};
  if (!a.reason.empty()) change.resolution = a.reason;
  if (!a.text.empty()) change.note = a.text;
  check(s.change_status(case_id, change, ctx.actor));
  auto now = check(s.get_case(case_id)).summary;
  std::string line = fmt::format("[{}#{}] is {}", ctx.tag(), now.id, now.status);
  if (now.resolution) line += fmt::format(" ({})", *now.resolution);
  if (change.note) line += "; comment added";
  print_case_or(ctx, s, now.id, line);
  return 0;
}

int cmd_tag(Context& ctx, const Args& a) {
  auto edits = tag_edits(a.tag_changes);
  Store s = ctx.store();
  auto case_id = parse_case_id(a.case_id, ctx.tag());
  auto changes = check(s.edit_tags(case_id, edits, ctx.actor));
  auto now = check(s.get_case(case_id)).summary;
  std::string tags = now.tags.empty() ? std::string("none") : fmt::format("{}", fmt::join(now.tags, " "));
  std::string line = changes.empty() ? fmt::format("[{}#{}] unchanged; tags: {}", ctx.tag(), now.id, tags)
                                     : fmt::format("[{}#{}] {}; tags: {}", ctx.tag(), now.id,
                                                   fmt::join(changes, " "), tags);
  print_case_or(ctx, s, now.id, line);
  return 0;
}

}  // namespace cased::cli
