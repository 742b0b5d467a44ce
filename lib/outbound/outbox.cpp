#include "outbound/outbox.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "cases/threading.hpp"
#include "core/fault_log.hpp"
#include "core/util.hpp"
#include "mail/address.hpp"
#include "net/smtp.hpp"
#include "outbound/compose.hpp"

namespace cased {
namespace {

constexpr const char* kDefaultAck =
    "Hello,\n"
    "\n"
    "thank you for your report. It has been received and filed as {tag}.\n"
    "A member of the security team will look at it and get back to you.\n"
    "\n"
    "To add information, reply to this message and keep {tag} in the\n"
    "subject. Please encrypt what you send; our key is published for {alias}.\n"
    "{policy}"
    "\n"
    "-- \n"
    "This is an automatic acknowledgement; it repeats nothing of your report.\n";

constexpr std::int64_t kClaimSeconds = 900;  // a sender that holds a row longer has died
constexpr int kMaxAttempts = 12;

std::string names(const std::vector<std::string>& addresses) { return fmt::format("{}", fmt::join(addresses, ", ")); }

// Exponential back-off: 1, 2, 4 ... minutes, at most 4 hours.
std::int64_t backoff(int tries) { return std::min<std::int64_t>(60LL << std::min(std::max(tries, 1) - 1, 8), 4 * 3600); }

}  // namespace

OutboundRecord record_of(std::int64_t case_id, const compose::Draft& d, const compose::Composed& c, bool encrypted) {
  std::vector<Attachment> files;
  for (const auto& p : d.attachments)
    files.push_back({p.filename, p.content_type, p.bytes.size(), sha256_hex(p.bytes), encrypted, true});
  return {case_id,       d.message_id, d.to,     d.subject.inner, d.text, c.raw, encrypted, d.in_reply_to,
          d.references, c.signer,     d.cc,     std::move(files)};
}

OutboxOptions outbox_options(const Config& config) {
  OutboxOptions o;
  o.alias = config.case_.alias;
  o.tag = config.case_.tag;
  o.signing_key = config.gpg.signing_key;
  o.ack_template = config.ack.template_text.empty() ? kDefaultAck : config.ack.template_text;
  o.policy_url = config.ack.policy_url;
  if (config.smtp) o.max_per_recipient_per_day = config.smtp->max_per_recipient_per_day;
  return o;
}

Outbox::Outbox(Store& store, Crypto& crypto, OutboxOptions options)
    : queue_(store), crypto_(crypto), options_(std::move(options)) {}

Result<std::optional<std::string>> Outbox::usable_key(const std::string& address) {
  std::string addr = normalize_address(address);
  // A key pinned to this very address: from mail (trust on first use, for
  // its sender only) or by an analyst.
  auto pinned = queue_.pinned_key(addr);
  if (!pinned) return pinned.error();
  if (*pinned) {
    auto k = crypto_.find_key(**pinned);
    return k && k->can_encrypt ? *pinned : std::nullopt;
  }
  // Keys the operator imported into gpg.home count as pinned for the
  // addresses in their user ids. A key any mail ever brought is not one of
  // them, whatever its user ids say: it stands in for nobody but the sender
  // it was pinned to.
  for (const auto& k : crypto_.keys_for(addr)) {
    if (!k.can_encrypt) continue;
    auto from_mail = queue_.key_from_mail(k.fingerprint);
    if (!from_mail) return from_mail.error();
    if (!*from_mail) return std::optional<std::string>(k.fingerprint);
  }
  return std::optional<std::string>();
}

std::optional<std::string> Outbox::key_for(const std::string& address) {
  auto key = usable_key(address);
  return key ? *key : std::nullopt;
}

Result<Outbox::Keys> Outbox::keys_for(const std::vector<std::string>& to) {
  Keys keys;
  for (const auto& t : to) {
    auto k = usable_key(t);
    if (!k) return k.error();
    if (*k) keys.found.push_back(**k);
    else keys.missing.push_back(t);
  }
  if (keys.missing.empty()) return keys;
  std::vector<std::string> certificates;
  for (const auto& t : to) {
    auto pinned = queue_.pinned_certificate(normalize_address(t));
    if (!pinned) return pinned.error();
    auto cert = *pinned ? crypto_.find_certificate(**pinned) : std::nullopt;
    if (!cert || !cert->can_encrypt) return keys;
    certificates.push_back(cert->fingerprint);
  }
  return Keys{{}, {}, std::move(certificates)};
}

Result<Outbox::Addressed> Outbox::address_reply(const ReplyRequest& request, const ReplyExtras& extras) {
  auto target = queue_.reply_case(request.case_id);
  if (!target) return target.error();
  Addressed a{target->id, target->subject, {}, {}, {}};
  if (!request.to.empty()) {
    for (const auto& t : request.to) a.to.push_back(normalize_address(t));
  } else {
    auto reporters = queue_.verified_reporters(a.case_id);
    if (!reporters) return reporters.error();
    for (auto& r : *reporters)
      if (!match_alias(r, options_.alias).ours) a.to.push_back(std::move(r));
  }
  if (a.to.empty()) return Error{Errc::invalid, "the case has no verified reporter to reply to; name one with --to"};
  for (const auto& c : extras.cc)
    if (auto n = normalize_address(c); std::find(a.to.begin(), a.to.end(), n) == a.to.end()) a.cc.push_back(n);
  if (request.sign_only && !extras.attachments.empty())
    return Error{Errc::invalid, "--attach sends files only inside the encryption: not with --sign-only"};

  std::vector<std::string> everyone = a.to;
  everyone.insert(everyone.end(), a.cc.begin(), a.cc.end());
  auto keys = keys_for(everyone);
  if (!keys) return keys.error();
  if (!keys->missing.empty() && !request.sign_only) {
    std::string who = names(keys->missing);
    if (auto logged =
            queue_.add_event(a.case_id, {"reply", request.actor, "reply refused: no usable key for " + who}, now_unix());
        !logged)
      return logged.error();
    return Error{Errc::refused, "no usable key for " + who + " (use --sign-only to send signed but unencrypted)"};
  }
  a.keys = std::move(*keys);
  return a;
}

Status Outbox::check_reply(const ReplyRequest& request, const ReplyExtras& extras) {
  auto a = address_reply(request, extras);
  if (!a) return a.error();
  return ok_status();
}

Result<Queued> Outbox::queue_reply(const ReplyRequest& request, const ReplyExtras& extras) {
  auto addressed = address_reply(request, extras);
  if (!addressed) return addressed.error();
  const std::int64_t case_id = addressed->case_id;
  const std::vector<std::string>& to = addressed->to;
  const std::vector<std::string>& cc = addressed->cc;
  std::int64_t now = now_unix();
  bool encrypt = !request.sign_only;
  // Thread under the last inbound message from one of the recipients that
  // was theirs: not an unverified one (another sender, or a forged From),
  // whose Message-ID anyone could have chosen.
  auto place = queue_.reply_place(case_id, to);
  if (!place) return place.error();

  compose::Draft draft{options_.alias, to, compose::make_message_id(case_id, now, options_.alias),
                       compose::reply_subjects(options_.tag, case_id, addressed->subject, encrypt), request.text,
                       place->in_reply_to, place->references, false, now, cc, extras.attachments, ""};
  auto composed = compose::compose(
      draft, {options_.signing_key, encrypt, addressed->keys.found, addressed->keys.certificates}, crypto_);
  if (!composed) return composed.error();
  CaseEvent event{"reply", request.actor,
                  fmt::format("reply {} queued to {}{}{}{}", draft.message_id, names(to),
                              cc.empty() ? "" : ", cc " + names(cc),
                              draft.attachments.empty() ? "" : fmt::format(" with {} file(s)", draft.attachments.size()),
                              encrypt ? " (signed, encrypted)" : " (signed only, NOT encrypted)")};
  auto id = queue_.enqueue_reply(record_of(case_id, draft, *composed, encrypt), event, now);
  if (!id) return id.error();
  return Queued{*id, case_id, to, draft.message_id, encrypt, cc};
}

Result<Queued> Outbox::queue_digest(const std::string& to_addr, const std::string& text, const std::string& bare_text) {
  std::string to = normalize_address(to_addr);
  auto key = usable_key(to);
  if (!key) return key.error();
  const bool encrypt = key->has_value();
  std::int64_t now = now_unix();
  std::string subject = compose::digest_subject(options_.tag, now);
  // Without the recipient's key the digest names cases by tag, status and age only.
  compose::Draft draft{options_.alias, {to}, compose::make_message_id(0, now, options_.alias), {subject, subject},
                       encrypt ? text : bare_text, "", {}, true, now, {}, {}, ""};
  compose::Sealing sealing{options_.signing_key, encrypt, encrypt ? std::vector{**key} : std::vector<std::string>{}, {}};
  auto composed = compose::compose(draft, sealing, crypto_);
  if (!composed) return composed.error();
  auto id = queue_.enqueue_digest(to, subject, draft.message_id, composed->raw, now);
  if (!id) return id.error();
  return Queued{*id, 0, {to}, draft.message_id, encrypt, {}};
}

Result<std::string> Outbox::compose_ack(const OutboxItem& item) {
  std::int64_t case_id = item.case_id.value_or(0);
  auto place = queue_.first_inbound(case_id);
  if (!place) return place.error();
  auto keys = keys_for(item.to);
  if (!keys) return keys.error();
  // A key pasted into the web form serves its case's acknowledgement, when
  // the typed address has no key of its own (it never replaces a pin).
  if (keys->missing.size() == 1 && item.to.size() == 1) {
    auto pasted = queue_.web_key(case_id, keys->missing.front());
    if (!pasted) return pasted.error();
    if (*pasted) {
      // Imported just after the report's commit: this row is tried again.
      auto k = crypto_.find_key(**pasted);
      if (!k) return Error{Errc::temporary, "the key pasted into the web form is not in the keyring yet"};
      if (k->can_encrypt) {
        keys->found.push_back(k->fingerprint);
        keys->missing.clear();
      }
    }
  }
  // Encrypted only when every recipient has a key.
  const bool encrypt = keys->missing.empty();
  std::int64_t now = now_unix();
  // The subject echoes nothing of the report: the tag and a fixed text.
  std::string subject = compose::ack_subject(options_.tag, case_id);
  std::string tag = fmt::format("[{}#{}]", options_.tag, case_id);
  compose::Draft draft{options_.alias, item.to, item.message_id, {subject, subject},
                       compose::ack_text(options_.ack_template, tag, options_.alias, options_.policy_url),
                       place->in_reply_to, place->references, true, now, {}, {}, ""};
  auto composed = compose::compose(draft, {options_.signing_key, encrypt, keys->found, keys->certificates}, crypto_);
  if (!composed) return composed.error();
  if (auto s = queue_.attach_ack(item.id, record_of(case_id, draft, *composed, encrypt), now); !s) return s.error();
  return composed->raw;
}

namespace {

// A full disk, a locked database or a hung gpg-agent is logged once for the
// process (core/fault_log.hpp), not once per row at every wake.
void warn_outbox(std::optional<std::int64_t> id, const Error& e) {
  if (is_lasting_fault(e.code)) {
    fault_log().failed(e, "the outbox keeps its mail and sends it once this clears");
  } else if (id) {
    spdlog::warn("outbox {}: {}", *id, e.message);
  } else {
    spdlog::warn("outbox: {}", e.message);
  }
}

}  // namespace

std::vector<SendAttempt> Outbox::send_due(const std::optional<SmtpConfig>& smtp, std::optional<std::int64_t> only) {
  std::vector<SendAttempt> attempts;
  if (!smtp) return attempts;
  auto password = smtp_password(*smtp);
  if (!password) {
    spdlog::error("smtp: {}", password.error().message);
    return attempts;
  }
  std::int64_t now = now_unix();
  auto due = queue_.due(now, only);
  if (!due) {
    warn_outbox(std::nullopt, due.error());
    return attempts;
  }
  for (std::int64_t id : *due) {
    // Claim the row: only one sender (daemon or casectl) wins.
    auto claimed = queue_.claim(id, now, kClaimSeconds);
    if (!claimed) {
      warn_outbox(id, claimed.error());
      attempts.push_back({id, SendStatus::queued, claimed.error().message});
    } else if (*claimed) {
      attempts.push_back(send_one(*smtp, *password, id, now));
    }
  }
  return attempts;
}

// One claimed row: composed if it is an acknowledgement, held back by the
// daily cap, or sent; the queue records the outcome.
SendAttempt Outbox::send_one(const SmtpConfig& smtp, const std::string& password, std::int64_t id, std::int64_t now) {
  SendAttempt attempt{id, SendStatus::queued, ""};
  auto fail = [&](const Error& e) {
    attempt.status = SendStatus::queued;  // the row stays claimed; its lease runs out
    attempt.error = e.message;
    warn_outbox(id, e);
    return attempt;
  };
  auto item = queue_.item(id);
  if (!item) return fail(item.error());
  if (item->raw.empty() && item->kind == "ack") {
    auto raw = compose_ack(*item);
    if (!raw) return fail(raw.error());
    item->raw = std::move(*raw);
  }
  // A per-recipient daily cap stops any loop that got past the other rules.
  auto capped = queue_.over_limit(item->to, now - 86400, options_.max_per_recipient_per_day);
  if (!capped) return fail(capped.error());
  SmtpResult r;
  if (!capped->empty()) {
    r.error = "daily limit of mail to " + capped->front() + " reached";
  } else {
    r = smtp_send(smtp, password, options_.alias, item->to, item->raw);
  }
  Status recorded = ok_status();
  if (r.kind == SmtpResult::Kind::sent) {
    attempt.status = SendStatus::sent;
    std::vector<CaseEvent> events{{item->kind == "ack" || item->kind == "notify" ? item->kind : "reply", "cased",
                                   fmt::format("{} {} sent to {}", item->kind, item->message_id, names(item->to))}};
    if (!r.rejected.empty())
      events.push_back({"bounce", "cased",
                        fmt::format("server refused recipient(s) of {}: {}", item->message_id, names(r.rejected))});
    recorded = queue_.mark_sent(id, now_unix(), item->case_id, events);
  } else if (r.kind == SmtpResult::Kind::permanent || item->attempts >= kMaxAttempts) {
    attempt.status = SendStatus::failed;
    attempt.error = r.error;
    recorded = queue_.mark_failed(id, r.error);
  } else {
    attempt.error = r.error;
    recorded = queue_.defer(id, r.error, now_unix() + backoff(item->attempts));
  }
  if (!recorded) return fail(recorded.error());
  spdlog::info("outbox {}: {} ({} recipient(s)){}{}", id, to_string(attempt.status), item->to.size(),
               attempt.error.empty() ? "" : ": ", attempt.error);
  return attempt;
}

Status Outbox::retry(std::int64_t id) { return queue_.retry(id, now_unix()); }

}  // namespace cased
