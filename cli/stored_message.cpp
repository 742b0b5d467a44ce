#include "stored_message.hpp"

#include <fmt/format.h>

#include <chrono>
#include <string>

#include "core/text.hpp"
#include "mail/mime.hpp"

namespace cased::cli {
namespace {

// The alias keyring, as the intake uses it (the same plaintext limit).
std::unique_ptr<Crypto> alias_crypto(const Context& ctx) {
  const Config& c = ctx.config;
  try {
    return std::make_unique<Crypto>(c.gpg.home, std::chrono::seconds(c.gpg.timeout_seconds), c.lmtp.max_message_size);
  } catch (const CryptoTimeout& e) {
    fail(ExitCode::temporary, e.what());
  } catch (const std::exception& e) {
    fail(ExitCode::failure, fmt::format("cannot decrypt with gpg.home {}: {}", c.gpg.home, e.what()));
  }
}

}  // namespace

ParsedMessage read_stored_message(Context& ctx, Store& s, std::int64_t id, std::int64_t message, bool decrypt,
                                  std::unique_ptr<Crypto>& crypto) {
  auto source = std::make_shared<const std::string>(check(s.raw_message(id, message)));
  ParsedMessage pm = parse_message(source);
  if (!decrypt) return pm;
  if (!crypto) {
    crypto = alias_crypto(ctx);
    crypto->import_offered_keys(false);
  }
  try {
    crypto->process(pm);
  } catch (const CryptoTimeout& e) {
    fail(ExitCode::temporary, e.what());
  }
  if (pm.decryption == DecryptionState::failed)
    fail(ExitCode::failure, fmt::format("message {} does not decrypt again: {}; nothing was done", message,
                                        display_safe(pm.decryption_error)));
  return pm;
}

}  // namespace cased::cli
