// cased: the daemon. Parses arguments and configuration, then runs the
// listeners and workers in daemon.cpp until SIGTERM/SIGINT.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <malloc.h>

#include <iostream>

#include "checks.hpp"
#include "core/config.hpp"
#include "crypto/smime.hpp"
#include "daemon.hpp"
#include "parse_worker.hpp"
#include "store/store.hpp"

namespace {

// Each message passes through buffers of its own size several times over
// (socket, DATA, MIME parts, SQLite). With glibc's defaults a 64 KB
// message's buffers went back to the kernel (munmap, or madvise when a
// thread's arena trimmed) and were faulted in afresh for the next one: half
// the daemon's CPU per message, most of it in the kernel. Keeping
// message-sized memory in the heap measured 318 -> 515 msg/s at 64 KB on one
// session, with the same peak RSS (docs/benchmarks.md). Messages larger
// than 4 MB still get their own mappings, returned when freed.
void keep_message_buffers_in_the_heap() {
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
}

// --check: every problem, one a line on stderr; exit 1 if any.
int check(const cased::Config& config, bool print) {
  auto problems = cased::check_config(config, true);
  for (const auto& p : problems) std::cerr << "cased: " << p.text << "\n";
  if (print) std::cout << cased::print_config(config);
  if (!problems.empty()) return 1;
  if (!print) std::cout << "cased: configuration " << config.source << " is valid\n";
  return 0;
}

// The start-up checks, the database and the S/MIME set-up, before the
// daemon listens. A database it cannot use (one from a newer cased, say)
// stops it: one log line, exit 1, the file left as it was. The configured
// S/MIME anchors, CRLs and the alias's certificate and key go into
// gpg.home before any message is read.
bool ready_to_run(const cased::Config& config) {
  using namespace cased;
  bool fatal = false;
  for (const auto& p : check_config(config, false)) {
    spdlog::log(p.fatal ? spdlog::level::critical : spdlog::level::warn, "{}", p.text);
    fatal = fatal || p.fatal;
  }
  if (fatal) return false;
  if (auto store = Store::open(config.case_.database, store_options(config, false)); !store) {
    spdlog::critical("{}", store.error().message);
    return false;
  }
  if (config.smime.configured) {
    if (auto s = smime::setup(config.smime, config.gpg.home); !s) {
      spdlog::critical("smime: {}", s.error().message);
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cased;
  keep_message_buffers_in_the_heap();
  const char* env_config = std::getenv("CASED_CONFIG");
  std::string config_path = env_config && *env_config ? env_config : "/etc/cased/cased.toml";
  bool check_only = false;
  bool print = false;
  bool parse_worker = false;
  ParseWorkerOptions worker;

  CLI::App app{"cased - the case tracker daemon behind a security@ alias"};
  app.set_version_flag("--version", std::string("cased ") + CASED_VERSION);
  app.add_option("--config", config_path, "configuration file (default $CASED_CONFIG or /etc/cased/cased.toml)");
  app.add_flag("--check", check_only,
               "run every start-up check (configuration, listen addresses, files, gpg.home), print each problem, exit");
  app.add_flag("--print", print, "with --check: print the effective configuration (secrets by path only)");
  // The daemon starts its parse workers with these (parse_worker.hpp);
  // hidden, since nobody else has a use for them.
  app.add_flag("--parse-worker", parse_worker)->group("");
  app.add_option("--gpg-home", worker.gpg_home)->group("");
  app.add_option("--gpg-timeout", worker.gpg_timeout_seconds)->group("");
  app.add_option("--max-plaintext", worker.max_plaintext)->group("");
  app.add_option("--own-key", worker.own_keys)->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "cased: " << e.what() << "\n";
    return 2;
  }

  if (parse_worker) {  // talks to the daemon on fd 3
    auto logger = spdlog::stderr_color_mt("cased-worker");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
    return run_parse_worker(3, worker);
  }

  auto config = load_config(config_path);
  if (!config) {
    std::cerr << "cased: " << config.error().message << "\n";
    return 1;
  }
  if (check_only) return check(*config, print);
  if (print) {
    std::cerr << "cased: --print goes with --check\n";
    return 2;
  }

  auto logger = spdlog::stderr_color_mt("cased");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  if (!ready_to_run(*config)) return 1;
  try {
    return run_daemon(*config, [config_path] { return load_config(config_path); });
  } catch (const std::exception& e) {
    std::cerr << "cased: " << e.what() << "\n";
    return 1;
  }
}
