// Keys and pins (docs/contract.md "Trust in a case"): which keys arrived by mail, which key is
// pinned to an address, trust on first use for a sender's own key, and an
// analyst's pin. The only module that writes the keys and mail_keys tables.
#include <fmt/format.h>

#include "core/util.hpp"
#include "mail/address.hpp"
#include "store/store.hpp"
#include "store/store_guard.hpp"

namespace cased {

using detail::guarded;

void Store::note_mail_keys(const PreparedMessage& msg, std::optional<std::int64_t> case_id, std::int64_t now) {
  for (const auto& k : msg.keys) {
    if (k.held_before) continue;
    db_.cached("INSERT OR IGNORE INTO mail_keys(fingerprint, sender, case_id, added) VALUES (?, ?, ?, ?)")
        .bind(1, k.key.fingerprint)
        .bind(2, normalize_address(msg.parsed.from))
        .bind(3, case_id)
        .bind(4, now)
        .run();
  }
}

// A key's kind (schema 20): an X.509 certificate from an S/MIME signature, or a PGP key.
namespace {
const char* protocol_of(std::string_view source) { return source == "smime" ? "smime" : "pgp"; }
}  // namespace

std::optional<std::string> Store::pinned_fingerprint(const std::string& address, std::string_view protocol) {
  auto& st = db_.cached("SELECT fingerprint FROM keys WHERE address = ? AND pinned = 1 AND protocol = ?");
  st.bind(1, normalize_address(address));
  st.bind(2, protocol);
  std::optional<std::string> f;
  if (st.step()) f = st.text(0);
  st.reset();
  return f;
}

Result<std::optional<std::string>> Store::pinned_key(const std::string& address) {
  return guarded([&]() -> Result<std::optional<std::string>> { return pinned_fingerprint(address); });
}

Result<std::optional<std::string>> Store::pinned_certificate(const std::string& address) {
  return guarded([&]() -> Result<std::optional<std::string>> { return pinned_fingerprint(address, "smime"); });
}

Result<bool> Store::key_from_mail(const std::string& fingerprint) {
  return guarded([&]() -> Result<bool> {
    auto& st = db_.cached("SELECT 1 FROM mail_keys WHERE fingerprint = ?");
    st.bind(1, fingerprint);
    bool yes = st.step();
    st.reset();
    return yes;
  });
}

// Trust on first use (docs/contract.md "Trust in a case"), for the sender's own address only: the
// first key seen for it is pinned; a different one later is recorded and
// flagged, not used. A key naming anyone else is recorded unpinned.
void Store::record_keys(const PreparedMessage& msg, std::int64_t case_id, std::string_view no_pin, std::int64_t now) {
  note_mail_keys(msg, case_id, now);
  const std::string sender = normalize_address(msg.parsed.from);
  auto record = [&](const std::string& address, const std::string& fpr, const std::string& source, bool pin) {
    db_.cached(
           "INSERT INTO keys(address, fingerprint, source, case_id, pinned, added, offered_by, protocol) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(address, fingerprint) DO UPDATE SET pinned = 1 "
           "WHERE excluded.pinned = 1 AND pinned = 0")
        .bind(1, address)
        .bind(2, fpr)
        .bind(3, source)
        .bind(4, case_id)
        .bind(5, pin)
        .bind(6, now)
        .bind(7, sender)
        .bind(8, protocol_of(source))
        .run();
    return db_.changes() > 0;
  };
  auto offer = [&](const std::string& fpr, const std::string& source) {
    auto pin = pinned_fingerprint(sender, protocol_of(source));
    bool inserted = record(sender, fpr, source, !pin);
    if (!pin)
      add_event(case_id, "key", "cased", fmt::format("key {} pinned to {} ({})", fpr, sender, source), now);
    else if (*pin != fpr)
      add_event(case_id, "key", "cased",
                fmt::format("WARNING: {} offered key {} ({}), but {} is pinned; not used until an analyst pins it",
                            sender, fpr, source, *pin), now);
    else if (inserted)
      add_event(case_id, "key", "cased", fmt::format("key {} seen again for {}", fpr, sender), now);
  };
  // Events for the first few unpinned records only: a key with a thousand
  // user ids is recorded whole but does not flood the history.
  std::size_t told = 0, untold = 0;
  for (const auto& k : msg.keys)
    for (const auto& address : k.key.addresses) {
      if (!sender.empty() && address == sender && no_pin.empty()) {
        offer(k.key.fingerprint, k.source);
        continue;
      }
      if (!record(address, k.key.fingerprint, k.source, false)) continue;
      if (++told > 10) {
        ++untold;
      } else {
        add_event(case_id, "key", "cased",
                  address == sender
                      ? fmt::format("key {} from {} recorded, not pinned: {}", k.key.fingerprint, sender, no_pin)
                      : fmt::format("key {} names {} but came from {}; recorded, never used for {}", k.key.fingerprint,
                                    address, sender.empty() ? "?" : sender, address),
                  now);
      }
    }
  if (untold)
    add_event(case_id, "key", "cased", fmt::format("{} more addresses of keys from {} recorded, not pinned", untold,
                                                   sender.empty() ? "?" : sender), now);
  const auto& pm = msg.parsed;
  // An S/MIME signer's certificate came in msg.keys above (source "smime").
  if (pm.crypto == "smime") return;
  if (sender.empty() || !no_pin.empty() || pm.signature != SignatureState::good || !pm.signer) return;
  auto pin = pinned_fingerprint(sender);
  // A good signature by a key whose user id names the sender is a key
  // seen for that address like an attached one: the first one is pinned.
  std::string uid = to_lower(pm.signer_uid);
  if (!pin && uid.find("<" + sender + ">") != std::string::npos) offer(*pm.signer, "signature");
  else if (pin && *pin != *pm.signer)
    add_event(case_id, "key", "cased",
              fmt::format("WARNING: message {} from {} is signed by {}, not by the pinned key {}", pm.message_id,
                          sender, *pm.signer, *pin), now);
}

void Store::pin_in_transaction(const std::string& address, const std::string& fingerprint, const std::string& actor,
                               std::int64_t now) {
  db_.cached("UPDATE keys SET pinned = 0 WHERE address = ? AND protocol = 'pgp'").bind(1, address).run();
  db_.cached(
         "INSERT INTO keys(address, fingerprint, source, pinned, added) VALUES (?1, ?2, 'analyst', 1, ?3) "
         "ON CONFLICT(address, fingerprint) DO UPDATE SET pinned = 1")
      .bind(1, address)
      .bind(2, fingerprint)
      .bind(3, now)
      .run();
  auto& st = db_.cached("SELECT DISTINCT case_id FROM participants WHERE address = ?");
  st.bind(1, address);
  std::vector<std::int64_t> cases;
  while (st.step()) cases.push_back(st.int64(0));
  st.reset();
  for (auto c : cases)
    add_event(c, "key", actor, fmt::format("key {} pinned to {} by an analyst", fingerprint, address), now);
}

Status Store::pin_key(const std::string& address, const std::string& fingerprint, const std::string& actor) {
  return guarded([&]() -> Status {
    sql::Transaction tx(db_);
    pin_in_transaction(address, fingerprint, actor, now_unix());
    tx.commit();
    return ok_status();
  });
}

Result<std::vector<KeyRecord>> Store::list_keys() {
  return guarded([&]() -> Result<std::vector<KeyRecord>> {
    auto& st = db_.cached(
        "SELECT address, fingerprint, source, case_id, pinned, added, offered_by, protocol FROM keys "
        "ORDER BY address, added");
    std::vector<KeyRecord> out;
    while (st.step())
      out.push_back(KeyRecord{st.text(0), st.text(1), st.text(2), st.opt_int64(3), st.int64(4) != 0, st.int64(5),
                              st.opt_text(6), st.text(7)});
    st.reset();
    return out;
  });
}

}  // namespace cased
