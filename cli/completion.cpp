#include "completion.hpp"

namespace cased::cli {
namespace {

// The set of a CLI::IsMember validator, as CLI11 describes it ("{a,b,c}");
// "" for any other validator or none.
std::string value_set(CLI::Option& o) {
  for (int i = 0;; ++i) {
    CLI::Validator* v = nullptr;
    try {
      v = o.get_validator(i);
    } catch (const CLI::OptionNotFound&) {
      return "";
    }
    if (!v) return "";
    std::string d = v->get_description();
    if (d.size() > 2 && d.front() == '{' && d.back() == '}' && d.find_first_of(" \t\n'\"\\$`") == std::string::npos)
      return d.substr(1, d.size() - 2);
  }
}

std::string words(CLI::Option& o) {
  std::string values = value_set(o);
  if (o.get_lnames().empty() && o.get_snames().empty())
    return " +" + o.get_name(true, false) + (values.empty() ? "" : "=" + values);
  std::string out;
  auto add = [&](const std::string& name) {
    out += " " + name;
    if (o.get_items_expected_max() != 0) out += "=" + values;
  };
  for (const auto& l : o.get_lnames()) add("--" + l);
  for (const auto& s : o.get_snames()) add("-" + s);
  return out;
}

}  // namespace

std::string completion_table(CLI::App& app) {
  std::string out;
  auto all = [](CLI::App*) { return true; };
  for (CLI::App* sub : app.get_subcommands(all)) {
    out += sub->get_name();
    // A command with commands of its own (`outbox cancel`): their names
    // are its first argument.
    std::string nested;
    for (CLI::App* inner : sub->get_subcommands(all)) nested += (nested.empty() ? "" : ",") + inner->get_name();
    if (!nested.empty()) out += " +COMMAND=" + nested;
    for (CLI::Option* o : sub->get_options([](CLI::Option*) { return true; })) {
      if (o == sub->get_help_ptr() || o == sub->get_help_all_ptr()) continue;
      out += words(*o);
    }
    out += "\n";
  }
  return out;
}

}  // namespace cased::cli
