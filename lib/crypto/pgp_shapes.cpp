// Incoming mail through the PGP layer: Crypto::process, one method per shape
// of OpenPGP mail. Rules that hold for every shape:
// - Only what the sender encrypted is decrypted: the message's root, or its
//   only body part. Ciphertext anywhere else (a forwarded message, an
//   attachment, a part among others, text quoted among plain text) may be
//   someone else's, captured and sent back to have cased read it out; it is
//   kept as it is and noted.
// - What gpg writes is bounded by the message size limit, and a message
//   with a flood of session-key packets never reaches gpg.
// - A signature speaks for the parts it covers: "good" only when it covers
//   every part, "partial" otherwise, and the signer's user ids are compared
//   with From.
#include <fmt/format.h>
#include <gpgme.h>

#include <algorithm>
#include <cctype>

#include "crypto/crypto.hpp"
#include "mail/mime.hpp"
#include "crypto/pgp_gpgme.hpp"
#include "crypto/pgp_packets.hpp"
#include "mail/address.hpp"
#include "core/base64.hpp"
#include "core/util.hpp"

namespace cased {

using pgp::ArmorSplit;
using pgp::SignatureOutcome;
using pgp::mark_subtree;
using pgp::to_crlf;

namespace {

constexpr std::string_view kNotAtRoot = "ciphertext not at the root; not decrypted";

bool has_armor(std::string_view body, std::string_view what) {
  return body.find("-----BEGIN PGP " + std::string(what) + "-----") != std::string_view::npos;
}

MimePart text_part(std::string body, const std::string& charset, bool encrypted, bool is_signed) {
  MimePart p;
  p.type = "text";
  p.subtype = "plain";
  p.charset = charset;
  p.body = std::move(body);
  p.encrypted = encrypted;
  p.is_signed = is_signed;
  return p;
}

// Puts `inner` (what gpg made of the armour block) where the block was.
// Text around the block was not part of it: it stays in parts of its own,
// marked as the whole part was, never glued to the inner text.
void replace_armor(MimePart& p, const ArmorSplit& split, std::string inner, bool inner_signed) {
  if (split.alone()) {
    p.body = std::move(inner);
    p.is_signed = p.is_signed || inner_signed;
    return;
  }
  MimePart mixed;
  mixed.type = "multipart";
  mixed.subtype = "mixed";
  mixed.encrypted = p.encrypted;
  mixed.is_signed = p.is_signed;
  if (!pgp::blank(split.before))
    mixed.children.push_back(text_part(std::string(split.before), p.charset, p.encrypted, p.is_signed));
  mixed.children.push_back(text_part(std::move(inner), p.charset, p.encrypted, p.is_signed || inner_signed));
  if (!pgp::blank(split.after))
    mixed.children.push_back(text_part(std::string(split.after), p.charset, p.encrypted, p.is_signed));
  p = std::move(mixed);
}

// Whether any part is (or carries) OpenPGP data process() would act on.
bool looks_like_openpgp(const MimePart& p) {
  if (p.is("multipart", "encrypted") || p.is("multipart", "signed") || p.subtype == "pgp-keys" ||
      (p.type == "text" && p.body.find("-----BEGIN PGP ") != std::string::npos))
    return true;
  return std::any_of(p.children.begin(), p.children.end(), looks_like_openpgp);
}

// Whether a part is or holds ciphertext (which process() will not decrypt there).
bool holds_ciphertext(const MimePart& p) {
  if (p.is("multipart", "encrypted") || (p.type == "text" && has_armor(p.body, "MESSAGE"))) return true;
  return std::any_of(p.children.begin(), p.children.end(), holds_ciphertext);
}

bool is_text_body(const MimePart& p) {
  return p.is("text", "plain") && p.disposition != "attachment" && p.children.empty();
}

bool is_pgp_control(const MimePart& p) {
  return p.type == "application" && (p.subtype == "pgp-signature" || p.subtype == "pgp-encrypted");
}

// The entity the sender made the message of: the root, or the only part of
// a multipart with one part, down from it.
MimePart& sole_entity(MimePart& root) {
  MimePart* at = &root;
  while (at->type == "multipart" && at->subtype != "encrypted" && at->subtype != "signed" && at->children.size() == 1)
    at = &at->children.front();
  return *at;
}

// Whether some shown parts are inside a good signature, some not. A
// forwarded message counts as one part; white space counts as nothing.
void coverage(const MimePart& p, bool& covered, bool& uncovered) {
  if (p.type == "multipart" && !p.children.empty()) {
    for (const auto& c : p.children) coverage(c, covered, uncovered);
    return;
  }
  if (is_pgp_control(p) || (p.type == "text" && p.children.empty() && pgp::blank(p.body))) return;
  (p.is_signed ? covered : uncovered) = true;
}

// Labels each text part of a partly signed message as signed or not, so
// that the body an analyst reads says which words the signature speaks for.
void label_coverage(MimePart& p) {
  if (p.type == "multipart") {
    for (auto& c : p.children) label_coverage(c);
    return;
  }
  if (p.type != "text" || (p.subtype != "plain" && p.subtype != "html") || p.disposition == "attachment" ||
      pgp::blank(p.body))
    return;
  p.body = (p.is_signed ? "[signed part]\n" : "[UNSIGNED part]\n") + to_utf8(p.body, p.charset);
  p.charset = "utf-8";
}

// The key data of an Autocrypt header (addr=...; [prefer-encrypt=mutual;]
// keydata=BASE64), decoded, when it is for the sender's own address.
std::string autocrypt_key(const ParsedMessage& msg) {
  std::string addr, keydata;
  std::string_view value = msg.autocrypt;
  while (!value.empty()) {
    auto semi = value.find(';');
    std::string attr = trim(value.substr(0, semi));
    value = semi == std::string_view::npos ? std::string_view() : value.substr(semi + 1);
    auto eq = attr.find('=');
    if (eq == std::string::npos) continue;
    std::string name = to_lower(trim(attr.substr(0, eq)));
    if (name == "addr") addr = normalize_address(attr.substr(eq + 1));
    else if (name == "keydata") keydata = attr.substr(eq + 1);
  }
  if (addr.empty() || addr != normalize_address(msg.from)) return {};
  // Folded white space is skipped; keydata that is not base64 imports nothing.
  return base64_decode(keydata).value_or(std::string());
}

}  // namespace

class Crypto::Incoming {
 public:
  Incoming(Crypto& crypto, ParsedMessage& msg) : crypto_(crypto), impl_(*crypto.impl_), msg_(msg) {}

  void import_autocrypt() {
    if (msg_.autocrypt.empty()) return;
    if (std::string key = autocrypt_key(msg_); !key.empty()) import_from(key, "autocrypt");
  }

  // Decrypts what the sender encrypted, then verifies and imports what the
  // (decrypted) tree carries.
  void run() {
    top_ = &sole_entity(msg_.root);
    MimePart& top = *top_;
    if (top.is("multipart", "encrypted")) {
      pgp_mime_encrypted(top);
    } else if (is_text_body(top)) {
      if (auto split = pgp::split_armor(top.body, "MESSAGE", "MESSAGE"); split && split->alone())
        inline_encrypted(top, *split);
    }
    walk(msg_.root);
  }

  void failed(std::string_view why) {
    decrypt_failed_ = true;
    if (msg_.decryption_error.empty()) msg_.decryption_error = why;
  }

  // Records the outcome on the message and extracts its content again.
  void finish() {
    msg_.decryption = decrypt_failed_ ? DecryptionState::failed
                     : decrypt_ok_    ? DecryptionState::ok
                                      : DecryptionState::none;
    msg_.signature = signature_status();
    msg_.signer = first_sig_.signer;
    msg_.signer_uid = first_sig_.signer_uid;
    if ((msg_.signature == SignatureState::good || msg_.signature == SignatureState::partial) && msg_.signer) {
      std::string from = normalize_address(msg_.from);
      const auto& names = first_sig_.addresses;
      if (from.empty() || std::find(names.begin(), names.end(), from) == names.end())
        msg_.problems.emplace_back(kSignerNotFrom);
    }
    if (msg_.signature == SignatureState::partial) label_coverage(msg_.root);
    if (protected_subject_) {
      msg_.outer_subject = msg_.subject;
      msg_.subject = *protected_subject_;
    }
    extract_content(msg_);
  }

 private:
  void walk(MimePart& p) {
    if (&p == left_) return;  // the sender's ciphertext that did not decrypt: already said why
    if (p.is("multipart", "encrypted")) return not_decrypted();
    if (p.is("multipart", "signed") && p.children.size() >= 2) {
      pgp_mime_signed(p);  // p is now the signed content
      return walk(p);
    }
    if (p.type == "application" && p.subtype == "pgp-keys") return import_from(p.body, "attachment");
    // A forwarded message is a quote: its ciphertext, signatures and keys
    // are someone else's, and speak for nothing in this message.
    if (p.type == "message") {
      if (holds_ciphertext(p)) not_decrypted();
      return;
    }
    if (is_text_body(p)) return text_body(p);
    for (auto& child : p.children) walk(child);
  }

  void text_body(MimePart& p) {
    if (has_armor(p.body, "MESSAGE")) return not_decrypted();
    if (auto split = pgp::split_armor(p.body, "SIGNED MESSAGE", "SIGNATURE")) return clearsigned(p, *split);
    if (auto split = pgp::split_armor(p.body, "PUBLIC KEY BLOCK", "PUBLIC KEY BLOCK"))
      import_from(split->block, "inline");
  }

  // RFC 3156 section 4: the second part holds the ciphertext.
  void pgp_mime_encrypted(MimePart& p) {
    auto plain = p.children.size() >= 2 ? decrypt(p.children[1].body) : std::nullopt;
    if (!plain) {
      if (p.children.size() < 2) failed("PGP/MIME message without its encrypted part");
      left_ = &p;
      return;
    }
    auto& [text, sig] = *plain;
    MimePart inner = parse_entity(text);
    text = std::string();
    mark_subtree(inner, true, sig.status == SignatureState::good);
    note_signature(sig);
    take_protected(inner);
    p = std::move(inner);
  }

  // A text body that is one armoured message and nothing else.
  void inline_encrypted(MimePart& p, const ArmorSplit& split) {
    auto plain = decrypt(split.block);
    if (!plain) {
      left_ = &p;
      return;
    }
    note_signature(plain->second);
    p.body = std::move(plain->first);
    p.encrypted = true;
    p.is_signed = p.is_signed || plain->second.status == SignatureState::good;
  }

  // RFC 3156 section 5: the first part, as it is in the message, is signed.
  void pgp_mime_signed(MimePart& p) {
    std::string signed_bytes = to_crlf(p.children[0].raw());
    pgp::Data sig = pgp::data_over(p.children[1].body);
    pgp::Data text = pgp::data_over(signed_bytes);
    SignatureOutcome outcome;
    pgp::TimedOp& op = impl_.timed_op();
    if (impl_.run_on_content(op, [&](gpgme_ctx_t oc) { return gpgme_op_verify_start(oc, sig.get(), text.get(), nullptr); }) == 0)
      outcome = impl_.signatures(gpgme_op_verify_result(op.get()));
    else
      outcome.status = SignatureState::bad;
    note_signature(outcome);
    bool at_top = &p == top_;
    MimePart content = std::move(p.children[0]);
    mark_subtree(content, p.encrypted, outcome.status == SignatureState::good);
    // Protected headers of the message itself, not of a part among others.
    if (at_top || content.encrypted) take_protected(content);
    p = std::move(content);
  }

  void clearsigned(MimePart& p, const ArmorSplit& split) {
    pgp::Data sig = pgp::data_over(split.block);
    pgp::BoundedSink out(impl_.max_plaintext);
    SignatureOutcome outcome;
    pgp::TimedOp& op = impl_.timed_op();
    gpgme_error_t err =
        impl_.run_on_content(op, [&](gpgme_ctx_t oc) { return gpgme_op_verify_start(oc, sig.get(), nullptr, out.get()); });
    if (err != 0 || out.overflowed()) {
      outcome.status = SignatureState::bad;
      note_signature(outcome);
      return;
    }
    outcome = impl_.signatures(gpgme_op_verify_result(op.get()));
    note_signature(outcome);
    replace_armor(p, split, out.take(), outcome.status == SignatureState::good);
  }

  // The plaintext and signature of the OpenPGP message in `body`, or nothing
  // (with the reason recorded).
  std::optional<std::pair<std::string, SignatureOutcome>> decrypt(std::string_view body) {
    auto data = pgp::encrypted_data(body);
    if (!data) return give_up("not OpenPGP data");
    // gpg tries every session key packet, each costing a request to
    // gpg-agent: a flood of them would hold a worker for minutes.
    auto lead = pgp::count_leading_packets(*data, kMaxKeyPackets);
    if (lead.too_many) return give_up(fmt::format("more than {} session key packets; not decrypted", kMaxKeyPackets));
    if (lead.malformed) return give_up("corrupt or not OpenPGP data");
    pgp::Data in = pgp::data_over(*data);
    pgp::BoundedSink out(impl_.max_plaintext);
    pgp::TimedOp& op = impl_.timed_op();
    gpgme_error_t err = impl_.run_on_content(
        op, [&](gpgme_ctx_t oc) { return gpgme_op_decrypt_ext_start(oc, GPGME_DECRYPT_VERIFY, in.get(), out.get()); });
    if (out.overflowed())
      return give_up(fmt::format("decrypted content is larger than {} bytes; decryption stopped", impl_.max_plaintext));
    if (gpgme_err_code(err) == GPG_ERR_NO_AGENT) throw CryptoTimeout("gpg-agent could not be reached");
    if (err != 0) return give_up(pgp::gpg_error_text(err));
    decrypt_ok_ = true;
    return std::make_pair(out.take(), impl_.signatures(gpgme_op_verify_result(op.get())));
  }

  std::nullopt_t give_up(std::string_view why) {
    failed(why);
    return std::nullopt;
  }

  void not_decrypted() {
    if (msg_.decryption_error.empty()) msg_.decryption_error = kNotAtRoot;
  }

  void note_signature(const SignatureOutcome& s) {
    if (first_sig_.status == SignatureState::none) {
      if (s.status != SignatureState::none) first_sig_ = s;
    } else if (s.status == SignatureState::good && first_sig_.status == SignatureState::good &&
               s.signer != first_sig_.signer) {
      other_signer_ = true;  // the first signer does not speak for every part
    }
  }

  SignatureState signature_status() const {
    if (first_sig_.status != SignatureState::good) return first_sig_.status;
    bool covered = false, uncovered = false;
    coverage(msg_.root, covered, uncovered);
    return uncovered || other_signer_ ? SignatureState::partial : SignatureState::good;
  }

  // Protected headers (protected-headers="v1" on the entity or, as a
  // multipart/mixed wrapper writes them, on its first part that has it).
  void take_protected(const MimePart& p) {
    auto is_v1 = [](const MimePart& x) { return iequals(x.param("protected-headers"), "v1"); };
    const MimePart* holder = is_v1(p) ? &p : nullptr;
    for (const auto& ch : p.children)
      if (!holder && is_v1(ch)) holder = &ch;
    if (!holder || protected_subject_) return;
    std::string s = holder->header("Subject");
    if (!s.empty()) protected_subject_ = decode_header_words(trim(s));
  }

  void import_from(std::string_view data, const char* source) {
    if (!crypto_.import_offered_) return;
    std::vector<std::string> held;
    for (const auto& k : crypto_.keys_in(data))
      if (crypto_.find_key(k.fingerprint)) held.push_back(k.fingerprint);
    for (auto& k : crypto_.import_keys(data)) {
      bool before = std::find(held.begin(), held.end(), k.fingerprint) != held.end();
      crypto_.imported_.push_back({k, source, before});
    }
  }

  Crypto& crypto_;
  Impl& impl_;
  ParsedMessage& msg_;
  MimePart* top_ = nullptr;         // what the sender made the message of
  const MimePart* left_ = nullptr;  // the sender's ciphertext, kept when it did not decrypt
  bool decrypt_ok_ = false, decrypt_failed_ = false, other_signer_ = false;
  SignatureOutcome first_sig_;
  std::optional<std::string> protected_subject_;
};

bool Crypto::has_openpgp(const ParsedMessage& msg) {
  return !msg.autocrypt.empty() || looks_like_openpgp(msg.root) || smime::looks_like_smime(msg.root);
}

void Crypto::process(ParsedMessage& msg) {
  imported_.clear();
  // All gpg work on one message: twice the time of one operation.
  struct Budget {
    Impl& impl;
    explicit Budget(Impl& i) : impl(i) {
      impl.content_deadline = std::chrono::steady_clock::now() + 2 * impl.timeout;
      impl.content_timed_out = false;
    }
    ~Budget() {
      impl.content_deadline.reset();
      impl.content_timed_out = false;
    }
  } budget(*impl_);
  if (process_smime(msg)) return;  // S/MIME at the root (smime_incoming.cpp)
  Incoming incoming(*this, msg);
  incoming.import_autocrypt();
  if (!looks_like_openpgp(msg.root)) return;
  try {
    incoming.run();
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const CryptoTimeout&) {
    throw;  // temporary: the caller defers the message
  } catch (const std::exception& e) {
    incoming.failed(e.what());
  }
  incoming.finish();
}

}  // namespace cased
