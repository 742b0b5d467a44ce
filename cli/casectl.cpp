// casectl: the analysts' tool. A thin shell over libcased: parse arguments
// (one subcommand per row of commands.cpp), open the store as the row says,
// call one function, print with output.cpp, exit with a status from
// exit_codes.cpp.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "completion.hpp"
#include "core/text.hpp"

namespace {

using namespace cased;
using namespace cased::cli;

constexpr const char* kDefaultConfig = "/etc/cased/cased.toml";

// The commands, for an error that names them.
std::string command_names() {
  std::string out;
  for (const Command& c : commands()) out += (out.empty() ? "" : ", ") + std::string(c.name);
  return out + ", help";
}

// The first word that is not a global option: the command, or nullptr.
const char* command_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view w = argv[i];
    if (w == "--config") ++i;  // its value
    else if (w.empty() || w.front() != '-') return argv[i];
  }
  return nullptr;
}

// "casectl help", an unknown command and no command at all, before CLI11
// says "A subcommand is required" for each. Returns an exit status, or -1.
int no_known_command(CLI::App& app, int argc, char** argv) {
  const char* word = command_word(argc, argv);
  if (word && std::string_view(word) == "help") {
    // Hidden: what contrib/completion/ completes from.
    bool complete = argc > 0 && std::string_view(argv[argc - 1]) == "--complete";
    std::cout << (complete ? completion_table(app) : app.help());
    return 0;
  }
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h" ||
        std::string_view(argv[i]) == "--version")
      return -1;  // CLI11 answers these
  bool known = false;
  for (const Command& c : commands()) known = known || (word && c.name == word);
  if (known) return -1;
  if (word)
    std::cerr << fmt::format("casectl: unknown command '{}'; the commands are: {} (casectl help)\n",
                             display_safe(word), command_names());
  else
    std::cerr << fmt::format("casectl: a command is required: {} (casectl help)\n", command_names());
  return static_cast<int>(ExitCode::usage);
}

int run(int argc, char** argv) {
  Context ctx;
  const char* env_config = std::getenv("CASED_CONFIG");
  ctx.config_path = env_config && *env_config ? env_config : kDefaultConfig;

  CLI::App app{"casectl - work the cases of a security@ alias", "casectl"};
  app.set_version_flag("--version", std::string("casectl ") + CASED_VERSION);
  app.add_option("--config", ctx.config_path, "configuration file (default $CASED_CONFIG or /etc/cased/cased.toml)");
  app.add_flag("--json", ctx.json, "print JSON");
  app.require_subcommand(1);
  app.fallthrough();
  app.footer(exit_help());
  ctx.invoker = invoker_from_environment();

  Args args;
  std::vector<std::pair<CLI::App*, const Command*>> subs;
  for (const Command& c : commands()) {
    CLI::App* sub = app.add_subcommand(std::string(c.name), std::string(c.help));
    c.options(*sub, args);
    subs.emplace_back(sub, &c);
  }
  if (int status = no_known_command(app, argc, argv); status >= 0) return status;
  try {
    std::vector<std::string> words = positional_tag_changes({argv + 1, argv + argc});
    std::reverse(words.begin(), words.end());
    app.parse(words);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version: stdout, exit 0
  } catch (const CLI::ParseError& e) {
    std::cerr << "casectl: " << e.what() << "\n";
    return static_cast<int>(ExitCode::usage);
  }
  // Through sudo the configuration decides which password goes to which
  // server: only root picks it.
  if (!ctx.invoker.may_choose_config() && (app.count("--config") > 0 || (env_config && *env_config))) {
    std::cerr << fmt::format("casectl: warning: run through sudo by {}: --config and CASED_CONFIG are ignored; "
                             "reading {}\n", ctx.invoker.user, kDefaultConfig);
    ctx.config_path = kDefaultConfig;
  }
  ctx.load();
  for (auto [sub, command] : subs) {
    if (!sub->parsed()) continue;
    ctx.access = command->access(args);
    return command->run(ctx, args);
  }
  return static_cast<int>(ExitCode::usage);  // require_subcommand(1) makes this unreachable
}

}  // namespace

int main(int argc, char** argv) {
  // Log lines (the outbox's, the store's) go to stderr: stdout is the command's output, JSON included.
  spdlog::set_default_logger(spdlog::stderr_color_mt("casectl"));
  try {
    return run(argc, argv);
  } catch (const Exit& e) {
    std::cerr << "casectl: " << display_safe(e.message, true) << "\n";
    return static_cast<int>(e.code);
  } catch (const std::exception& e) {
    std::cerr << "casectl: " << display_safe(e.what(), true) << "\n";
    return static_cast<int>(ExitCode::failure);
  }
}
