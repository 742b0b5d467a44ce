// The daemon's run loop: LMTP listeners on every lmtp.listen address, a pool
// that parses (and decrypts) messages, and the group-commit writer.
#pragma once

#include <functional>

#include "core/config.hpp"

namespace cased {

// Runs until SIGTERM/SIGINT; returns the exit status. SIGHUP calls `load`
// for the configuration new sessions use.
int run_daemon(const Config& config, const std::function<Result<Config>()>& load);

}  // namespace cased
