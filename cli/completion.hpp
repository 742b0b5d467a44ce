// What the shell completion in contrib/completion/ asks casectl for
// (`casectl help --complete`), read from the CLI11 app itself so that a new
// command or option completes without editing the shell files.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace cased::cli {

// One line per command: its name, then one word per option and positional,
// in the order they were added:
//   --flag          an option without a value
//   --opt=          an option with a free value
//   --opt=a,b,c     an option with a value out of a set (CLI::IsMember)
//   +NAME           a positional; +NAME=a,b,c with a value out of a set
//                   (+COMMAND=a,b first for a command with commands of its own)
std::string completion_table(CLI::App& app);

}  // namespace cased::cli
