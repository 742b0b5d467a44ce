// The MIME parse and prepare_message without crypto: what every delivered
// byte goes through first. Any input must parse to a model, never throw.
#include <cstdlib>

#include "crypto/smime.hpp"
#include "fuzz_common.hpp"
#include "mail/mime.hpp"
#include "store/store.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cased::fuzz::quiet();
  std::string raw(cased::fuzz::as_view(data, size));
  cased::Envelope envelope{cased::MessageSource::lmtp, "rita@example.org", {"security@example.com"}};
  cased::PreparedMessage prepared = cased::prepare_message(raw, envelope, nullptr);
  // prepare_message keeps the bytes exactly and hashes them like normalized_sha256.
  if (prepared.raw != raw || prepared.sha256 != cased::normalized_sha256(raw)) std::abort();
  // A decrypted part is parsed on its own, as an entity.
  (void)cased::parse_entity(raw);
  // S/MIME detection and the CMS framing read before gpgsm runs.
  if (cased::smime::looks_like_smime(prepared.parsed.root))
    (void)cased::smime::cms_kind(cased::smime::der_of(prepared.parsed.root.body));
  (void)cased::smime::cms_kind(raw);
  return 0;
}
