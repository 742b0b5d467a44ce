// A stored message read again (casectl save, notify --include): parsed from
// its raw bytes as received and, when it holds OpenPGP, decrypted and
// verified again with the alias key. The plaintext lives only in memory.
#pragma once

#include <cstdint>
#include <memory>

#include "context.hpp"
#include "mail/message.hpp"

namespace cased::cli {

// Message `message` of case `id` (following merges; not_found otherwise),
// parsed again; with `decrypt`, processed by the alias keyring, which is
// made in `crypto` on first use (offered keys are not imported: reading old
// mail changes nothing). A message that does not decrypt again fails the
// command, naming it.
ParsedMessage read_stored_message(Context& ctx, Store& s, std::int64_t id, std::int64_t message, bool decrypt,
                                  std::unique_ptr<Crypto>& crypto);

}  // namespace cased::cli
