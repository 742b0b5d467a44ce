// OpenPGP with GPGME: decrypt and verify incoming mail, import reporters'
// keys. One Crypto owns one gpgme context: use one per thread. Plaintext
// stays in memory (gpgme memory data objects); nothing touches a temp file.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "crypto/smime.hpp"
#include "mail/message.hpp"

namespace cased {

struct KeyInfo {
  std::string fingerprint;             // primary key, upper-case hex
  std::vector<std::string> addresses;  // lower-case addr-specs of its user ids
  std::string uid;                     // first user id, as written
  std::optional<std::int64_t> expires; // Unix time, if any
  bool can_encrypt = false;            // not expired, revoked or disabled, has an encryption subkey
  bool secret = false;                 // we hold its secret key

  bool operator==(const KeyInfo&) const = default;
};

struct ImportedKey {
  KeyInfo key;
  std::string source;                  // attachment | inline | autocrypt
  // gpg.home held it before this message offered it (imported by the
  // operator, or by earlier mail): the message brought nothing new, so it
  // must not turn an operator's key into one "from mail".
  bool held_before = false;

  bool operator==(const ImportedKey&) const = default;
};

// gpg or gpg-agent could not do its work for a reason outside the message:
// an operation ran past its time limit while gpg-agent did not answer (hung),
// or gpg-agent could not be reached. Temporary: the message must be retried,
// not stored as failed. A message that makes gpg slow or fail is not this:
// it is stored with "decryption": "failed".
class CryptoTimeout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The entry of ParsedMessage::problems saying that no user id of the
// signer's key names the From address.
inline constexpr std::string_view kSignerNotFrom = "signer does not match From";

// What a cleartext-signed text's signature says (Crypto::verify_clearsigned).
struct ClearsignedCheck {
  SignatureState status = SignatureState::bad;  // good, bad or unknown_key
  std::optional<std::string> signer;            // the primary key, when in the keyring
  std::optional<std::string> signing_key;       // the key the signature names
  std::string problem;                          // why gpg could not verify it at all
};

class Crypto {
 public:
  static constexpr std::uint64_t kDefaultMaxPlaintext = 50ull << 20;
  // At most this many session-key packets (public-key or symmetric) in front
  // of a message's encrypted data: gpg tries each one.
  static constexpr std::size_t kMaxKeyPackets = 64;

  // `home` is the GNUPGHOME holding the alias key. Throws std::runtime_error
  // when GPGME or gpg cannot be used at all, and CryptoTimeout when the
  // secret keys must be listed (the first Crypto of this process and home)
  // and gpg-agent does not answer: try again later. An operation that takes longer
  // than `timeout` is cancelled (see CryptoTimeout). Decrypted or verified
  // content is read up to `max_plaintext` bytes (the message size limit);
  // beyond it the operation stops and the message is marked failed.
  explicit Crypto(const std::string& home, std::chrono::seconds timeout = std::chrono::seconds(60),
                  std::uint64_t max_plaintext = kDefaultMaxPlaintext);
  ~Crypto();
  Crypto(const Crypto&) = delete;
  Crypto& operator=(const Crypto&) = delete;

  // Decrypts PGP/MIME and inline PGP where the sender encrypted the message
  // itself (its root, or its only body part; ciphertext anywhere else is
  // kept as it is and noted in `decryption_error`), verifies multipart/signed,
  // clearsigned and signed-inside-encrypted content ("partial" when a good
  // signature covers only some of the parts; a signer whose user ids do not
  // name From is noted in `problems`), applies protected headers of what it
  // decrypted, imports offered keys, and re-extracts the body and
  // attachments. Never throws on bad input; failures are recorded on the
  // message. Throws CryptoTimeout only for faults outside the message.
  void process(ParsedMessage& msg);
  // Whether process() would run gpg on this message at all (encrypted or
  // signed parts, armor, key blocks, an Autocrypt header). Plain mail needs
  // no gpg and no worker.
  static bool has_openpgp(const ParsedMessage& msg);

  // Whether process() imports the keys a message offers (default yes).
  // Decoding a stored message again (casectl save) turns it off: reading
  // old mail must not change the keyring.
  void import_offered_keys(bool on) { import_offered_ = on; }

  // Keys imported by the last process() call, with where they came from.
  const std::vector<ImportedKey>& imported() const { return imported_; }

  // Imports the keys in `armored` (or binary) data, never touching keys we
  // hold a secret for. Returns what was imported.
  std::vector<KeyInfo> import_keys(std::string_view data);

  // The keys in a key file, without importing them (`secret` when the file
  // carries secret key material); and a cleartext-signed text verified
  // against the keyring (key_files.cpp). Errc::unavailable when gpg-agent
  // does not answer.
  std::vector<KeyInfo> keys_in(std::string_view data);
  Result<ClearsignedCheck> verify_clearsigned(std::string_view text);
  // Takes back public keys just imported (a vendor key whose security.txt
  // then failed its check). Never deletes a key we hold a secret for.
  void remove_public_keys(const std::vector<std::string>& fingerprints);

  // Looks a key up by fingerprint.
  std::optional<KeyInfo> find_key(std::string_view fingerprint);
  // Every usable key whose user ids name `address`.
  std::vector<KeyInfo> keys_for(std::string_view address);
  // Every secret key in the keyring.
  std::vector<KeyInfo> secret_keys();
  // The fingerprints of our own secret keys, listed once per process and
  // home; remember_own_keys() tells a new process what another has listed,
  // so that it need not ask gpg-agent again.
  const std::vector<std::string>& own_fingerprints() const;
  static void remember_own_keys(const std::string& home, std::vector<std::string> fingerprints);

  // The key that signs for `alias`: `configured` (a fingerprint) when set,
  // else the secret key whose user id names the alias.
  Result<KeyInfo> signing_key(const std::string& configured, const std::string& alias);

  // Signs with `signer` and encrypts to `recipients` (fingerprints), trusting
  // them as given (pinning decides, not the web of trust). Returns armor.
  Result<std::string> sign_encrypt(std::string_view plaintext, const std::string& signer,
                                   const std::vector<std::string>& recipients);
  // A detached armored signature over `data`, and the hash name for micalg
  // ("pgp-sha256"...).
  Result<std::pair<std::string, std::string>> detach_sign(std::string_view data, const std::string& signer);
  // Clearsigns text (for security.txt).
  Result<std::string> clearsign(std::string_view text, const std::string& signer);
  // The public key, armored or (for WKD) binary.
  Result<std::string> export_key(const std::string& fingerprint, bool armor = true);

  // S/MIME through gpgsm (smime.cpp). A certificate in gpgsm's keybox;
  // the alias's own (one we hold the key of, naming `alias`); and `entity`
  // (a MIME entity, CRLF) signed by `signer` as multipart/signed, then
  // encrypted to `recipients` and the signer (certificate fingerprints):
  // a whole application/pkcs7-mime entity, its header fields included.
  std::optional<CertInfo> find_certificate(std::string_view fingerprint);
  Result<CertInfo> smime_signer(const std::string& alias);
  Result<std::string> smime_seal(std::string_view entity, const std::string& signer,
                                 const std::vector<std::string>& recipients);

 private:
  // Incoming S/MIME (smime_incoming.cpp): false when the message's root is
  // not S/MIME (PGP's rules then apply).
  bool process_smime(ParsedMessage& msg);
  class SmimeIncoming;
  struct Impl;
  class Incoming;  // one message's way through process() (pgp_shapes.cpp)
  std::unique_ptr<Impl> impl_;
  std::vector<ImportedKey> imported_;
  bool import_offered_ = true;
};

}  // namespace cased
