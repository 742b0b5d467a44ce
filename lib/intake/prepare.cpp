#include "intake/prepare.hpp"

#include <memory>

#include "core/enum_words.hpp"
#include "core/util.hpp"
#include "mail/mime.hpp"

namespace cased {

namespace {

constexpr EnumWords<MessageSource, 4> kSources = {{
    {MessageSource::lmtp, "lmtp"},
    {MessageSource::ingest, "ingest"},
    {MessageSource::imap, "imap"},
    {MessageSource::web, "web"},
}};

}  // namespace

const char* to_string(MessageSource source) { return word_for(kSources, source); }
std::optional<MessageSource> parse_message_source(std::string_view word) { return value_for(kSources, word); }

std::string normalized_sha256(std::string_view raw) { return crlf_sha256_hex(raw); }

namespace {

// Drops every part's hold on the bytes the tree was parsed from: once the
// parser and the PGP layer are done, nothing reads them (parse workers do
// not send them either).
void forget_sources(MimePart& part) {
  part.raw_span = SourceSpan();
  part.raw_body_span = SourceSpan();
  for (auto& child : part.children) forget_sources(child);
}

}  // namespace

PreparedMessage prepare_message(std::string raw, Envelope envelope, Crypto* crypto) {
  // The tree's spans share the message's one copy of its bytes while the
  // parser and the PGP layer read them; then the bytes move on as `raw`.
  auto source = std::make_shared<std::string>(std::move(raw));
  PreparedMessage p;
  p.sha256 = normalized_sha256(*source);
  p.parsed = parse_message(std::shared_ptr<const std::string>(source));
  if (crypto) {
    crypto->process(p.parsed);
    p.keys = crypto->imported();
    const auto& m = p.parsed;
    if (m.crypto.empty() && (m.decryption != DecryptionState::none || m.signature != SignatureState::none))
      p.parsed.crypto = "pgp";
  }
  forget_sources(p.parsed.root);
  if (source.use_count() == 1) p.raw = std::move(*source);
  else p.raw = *source;
  p.envelope = std::move(envelope);
  return p;
}

}  // namespace cased
