#include "context.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>

#include "core/text.hpp"
#include "core/util.hpp"
#include "mail/address.hpp"

namespace cased::cli {
namespace {

// docs/analyst.md: the user name of the effective uid.
std::string current_user() {
  if (const passwd* pw = getpwuid(geteuid())) return pw->pw_name;
  return fmt::format("uid{}", geteuid());
}

// Whether the effective user may `mode` the file (access() would ask for the real one).
bool may(const std::string& path, int mode) { return ::faccessat(AT_FDCWD, path.c_str(), mode, AT_EACCESS) == 0; }

// The database cannot be opened as `how` by this user: say so, naming the
// file and the user, before SQLite says "unable to open database file".
void check_database_access(const std::string& path, bool write, const Invoker& invoker) {
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
  std::string user = current_user();
  if (invoker.via_sudo) user += fmt::format(" (through sudo by {})", invoker.user);
  auto refuse = [&](const std::string& what) {
    fail(ExitCode::failure, fmt::format("cannot open database {} as user {}: {}; run casectl as a user who may "
                                        "(for example sudo -u the service user), or ask the operator for access",
                                        path, user, what));
  };
  if (!may(dir, X_OK)) refuse(fmt::format("its directory {} cannot be entered", dir));
  if (may(path, F_OK)) {
    if (!may(path, R_OK)) refuse("the file is not readable");
    if (write && !may(path, W_OK)) refuse("the file is not writable");
  } else if (write && !may(dir, W_OK | X_OK)) {
    refuse(fmt::format("it does not exist and its directory {} is not writable", dir));
  }
}

}  // namespace

void fail(ExitCode code, std::string message) { throw Exit{code, std::move(message)}; }

void Context::load() {
  std::ifstream in(config_path, std::ios::binary);
  if (!in) fail(ExitCode::failure, fmt::format("cannot read configuration {}", config_path));
  std::string text(std::istreambuf_iterator<char>(in), {});
  config = check(parse_config(text, config_path));
  actor = invoker.via_sudo ? invoker.user : current_user();
  style.tag = config.case_.tag;
  style.color = isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
}

Store Context::store(bool acknowledge) {
  const std::string& path = config.case_.database;
  StoreOptions options = store_options(config, acknowledge && config.ack.enabled);
  // The search index is brought up to date by whoever may write; a reader
  // without write access searches what is indexed so far.
  bool write = access == Access::write || (access == Access::index && may(path, W_OK));
  check_database_access(path, write, invoker);
  if (write) return check(Store::open(path, std::move(options)));
  if (!may(path, F_OK))
    fail(ExitCode::failure, fmt::format("database {} does not exist yet: start cased or run casectl init", path));
  return check(Store::open_readonly(path, std::move(options)));
}

std::unique_ptr<Crypto> Context::required_crypto() {
  try {
    return std::make_unique<Crypto>(config.gpg.home, std::chrono::seconds(config.gpg.timeout_seconds));
  } catch (const CryptoTimeout& e) {
    fail(ExitCode::temporary, e.what());
  } catch (const std::exception& e) {
    fail(ExitCode::failure, fmt::format("cannot use gpg.home {}: {}", config.gpg.home, e.what()));
  }
}

std::unique_ptr<Crypto> Context::crypto() {
  if (::access(config.gpg.home.c_str(), R_OK | X_OK) != 0) {
    std::cerr << fmt::format("casectl: warning: gpg.home {} is not readable; PGP mail stays undecrypted\n",
                             config.gpg.home);
    return nullptr;
  }
  try {
    // Decrypted content is bounded by the message size limit, as over LMTP.
    return std::make_unique<Crypto>(config.gpg.home, std::chrono::seconds(config.gpg.timeout_seconds),
                                    config.lmtp.max_message_size);
  } catch (const CryptoTimeout& e) {
    // gpg-agent hangs: exit 75, so that an MTA piping mail here retries it
    // later instead of it being stored undecrypted.
    fail(ExitCode::temporary, e.what());
  } catch (const std::exception& e) {
    std::cerr << fmt::format("casectl: warning: {}; PGP mail stays undecrypted\n", e.what());
    return nullptr;
  }
}

std::string Context::read_file(const std::string& path) const { return check(read_as_invoker(invoker, path)); }

std::string read_stdin() {
  std::ios::sync_with_stdio(false);
  return std::string(std::istreambuf_iterator<char>(std::cin), {});
}

std::int64_t parse_case_id(const std::string& text, const std::string& tag) {
  std::string t = text;
  if (!t.empty() && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
  if (iequals(t.substr(0, std::min(t.size(), tag.size())), tag)) t = t.substr(tag.size());
  if (!t.empty() && t.front() == '#') t = t.substr(1);
  try {
    std::size_t used = 0;
    long long v = std::stoll(t, &used);
    if (used == t.size() && v > 0) return v;
  } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): reported below
  }
  fail(ExitCode::usage, fmt::format("not a case id: '{}'", text));
}

std::string analyst_address(const std::string& address) {
  std::string addr = normalize_address(address);
  if (!valid_addr_spec(addr)) fail(ExitCode::usage, fmt::format("not an address: '{}'", display_safe(address)));
  return addr;
}

std::string message_text(const Context& ctx, const std::string& text, const std::string& file) {
  if (!text.empty() && !file.empty()) fail(ExitCode::usage, "give either -m or -F, not both");
  if (!file.empty()) return file == "-" ? read_stdin() : ctx.read_file(file);
  if (text.empty()) fail(ExitCode::usage, "give the text with -m TEXT or -F FILE");
  return text;
}

}  // namespace cased::cli
