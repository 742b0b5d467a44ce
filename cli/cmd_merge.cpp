// casectl merge ID INTO and casectl split ID MSG...: the store does the
// work in one transaction each (store/merge.cpp); this reads the ids and
// prints the result, or with --json the case as `show --json` prints it.
#include <fmt/format.h>

#include <iostream>

#include "commands.hpp"

namespace cased::cli {
namespace {

// A message id as `show` lists it: a whole number above 0.
std::int64_t parse_message_id(const std::string& text) {
  try {
    std::size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used == text.size() && v > 0) return v;
  } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): reported below
  }
  fail(ExitCode::usage, fmt::format("split: not a message id: '{}' (the ids show lists)", text));
}

void print_case(Context& ctx, Store& s, std::int64_t case_id, const std::string& text) {
  if (ctx.json) print_json(to_json(check(s.get_case(case_id))));
  else std::cout << text << "\n";
}

}  // namespace

void merge_options(CLI::App& c, Args& a) {
  c.add_option("ID", a.case_id, "the case to merge (it points at INTO from then on)")->required();
  c.add_option("INTO", a.arg2, "the case that takes in everything ID holds")->required();
}

void split_options(CLI::App& c, Args& a) {
  c.add_option("ID", a.case_id, "case id")->required();
  c.add_option("MSG", a.split_messages, "the messages to move (their ids, as show lists them)")->required();
}

int cmd_merge(Context& ctx, const Args& a) {
  std::int64_t id = parse_case_id(a.case_id, ctx.tag());
  std::int64_t into = parse_case_id(a.arg2, ctx.tag());
  Store s = ctx.store();
  std::int64_t target = check(s.merge_case(id, into, ctx.actor));
  print_case(ctx, s, target, fmt::format("[{0}#{1}] merged into [{0}#{2}]", ctx.tag(), id, target));
  return 0;
}

int cmd_split(Context& ctx, const Args& a) {
  std::int64_t id = parse_case_id(a.case_id, ctx.tag());
  std::vector<std::int64_t> messages;
  for (const auto& m : a.split_messages) messages.push_back(parse_message_id(m));
  Store s = ctx.store();
  std::int64_t opened = check(s.split_case(id, messages, ctx.actor));
  print_case(ctx, s, opened,
             fmt::format("messages {} of [{}#{}] split into a new case [{}#{}]", fmt::join(messages, ", "),
                         ctx.tag(), id, ctx.tag(), opened));
  return 0;
}

}  // namespace cased::cli
