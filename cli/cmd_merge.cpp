// casectl merge ID INTO and casectl split ID MSG...: the store does the
// work in one transaction each (store/merge.cpp); this reads the ids and
// prints the result, or with --json the case as `show --json` prints it.
#include <fmt/format.h>

#include <iostream>

#include "commands.hpp"

namespace cased::cli {
namespace {

void print_case(Context& ctx, Store& s, std::int64_t case_id, const std::string& text) {
  if (ctx.json)
    print_json(to_json(check(s.get_case(case_id))));
  else
    std::cout << text << "\n";
}

}  // namespace

void merge_options(CLI::App& c, Args& a) {
  c.add_option("ID", a.case_id, "the case to merge (it points at INTO from then on)")->required();
  c.add_option("INTO", a.arg2, "the case that takes in everything ID holds")->required();
}

void split_options(CLI::App& c, Args& a) {
  c.add_option("ID", a.case_id, "case id")->required();
  c.add_option("MSG", a.split_messages, "the messages to move (their ids, as show lists them)")
      ->required()
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            bool digits = !v.empty() && v.size() <= 18 && v.find_first_not_of("0123456789") == std::string::npos;
            if (digits && std::stoll(v) > 0) return {};
            return fmt::format("wants message ids as show lists them (whole numbers from 1), not '{}'",
                               v.size() > 24 ? v.substr(0, 20) + "..." : v);
          },
          "ID", "message id"));
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
  Store s = ctx.store();
  std::int64_t opened = check(s.split_case(id, a.split_messages, ctx.actor));
  print_case(ctx, s, opened,
             fmt::format("messages {} of [{}#{}] split into a new case [{}#{}]", fmt::join(a.split_messages, ", "),
                         ctx.tag(), id, ctx.tag(), opened));
  return 0;
}

}  // namespace cased::cli
