#include "mail/message.hpp"

#include "core/enum_words.hpp"

namespace cased {
namespace {

// The database and JSON hold these words.
constexpr EnumWords<DecryptionState, 3> kDecryption = {{
    {DecryptionState::none, "none"},
    {DecryptionState::ok, "ok"},
    {DecryptionState::failed, "failed"},
}};

constexpr EnumWords<SignatureState, 5> kSignature = {{
    {SignatureState::none, "none"},
    {SignatureState::good, "good"},
    {SignatureState::partial, "partial"},
    {SignatureState::bad, "bad"},
    {SignatureState::unknown_key, "unknown-key"},
}};

}  // namespace

const char* to_string(DecryptionState state) { return word_for(kDecryption, state); }
const char* to_string(SignatureState state) { return word_for(kSignature, state); }

std::optional<DecryptionState> parse_decryption_state(std::string_view word) { return value_for(kDecryption, word); }
std::optional<SignatureState> parse_signature_state(std::string_view word) { return value_for(kSignature, word); }

}  // namespace cased
