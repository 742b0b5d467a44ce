// What every casectl command works with: the configuration, who acts, the
// store opened as the command's row says, and the way a command ends early.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "crypto/crypto.hpp"
#include "exit_codes.hpp"
#include "invoker.hpp"
#include "output.hpp"
#include "store/store.hpp"

namespace cased::cli {

// How a command uses the database (commands.cpp decides it per row).
enum class Access {
  none,     // not at all
  read,     // read-only: never created, migrated or written
  index,    // read, and bring the search index up to date when the user may write the file
  write,    // read-write: created and migrated as needed
};

// Ends the command with a message on stderr and an exit status.
struct Exit {
  ExitCode code;
  std::string message;
};

[[noreturn]] void fail(ExitCode code, std::string message);

template <class T>
T check(Result<T> r) {
  if (!r) fail(exit_for(r.error().code), r.error().message);
  return std::move(r.value());
}

struct Context {
  std::string config_path;
  bool json = false;
  Config config;
  std::string actor;
  TextStyle style;
  Invoker invoker;  // who typed the command (invoker.hpp)
  Access access = Access::write;

  void load();
  // The store, opened as `access` says; `acknowledge` as ack.enabled allows.
  Store store(bool acknowledge = false);
  // Replies and the digest cannot go out without the alias key.
  std::unique_ptr<Crypto> required_crypto();
  // The alias keyring, when gpg.home exists; without it mail is stored undecrypted.
  std::unique_ptr<Crypto> crypto();
  // A file named on the command line, read with the invoking user's rights.
  std::string read_file(const std::string& path) const;
  const std::string& tag() const { return config.case_.tag; }
};

std::string read_stdin();
// 42, #42, CASE#42 and [CASE#42]; anything else is a usage error.
std::int64_t parse_case_id(const std::string& text, const std::string& tag);
// An address an analyst typed: one addr-spec, or a usage error before anything is done.
std::string analyst_address(const std::string& address);
// The text of -m TEXT or -F FILE (- for stdin): exactly one of them.
std::string message_text(const Context& ctx, const std::string& text, const std::string& file);

}  // namespace cased::cli
