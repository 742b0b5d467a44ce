// Vendor notifications (casectl notify): each vendor gets its own mail,
// addressed to its contacts only and encrypted to its key only (and the
// alias's, so that the team can read what it sent), composed like a reply
// (compose.hpp) and queued with the others in one transaction.
#include <fmt/format.h>

#include "core/util.hpp"
#include "mail/address.hpp"
#include "outbound/compose.hpp"
#include "outbound/outbox.hpp"

namespace cased {
namespace {

// alias+ID.NAME@domain: mail to it threads into case ID as vendor NAME's.
std::string vendor_reply_to(const std::string& alias, std::int64_t case_id, const std::string& vendor) {
  auto at = alias.rfind('@');
  if (at == std::string::npos) return {};
  return fmt::format("{}+{}.{}{}", alias.substr(0, at), case_id, vendor, alias.substr(at));
}

std::string joined(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ", ")); }

}  // namespace

std::optional<std::string> Outbox::vendor_key(const Vendor& v) {
  if (!v.key) return std::nullopt;
  auto k = crypto_.find_key(*v.key);
  if (!k || !k->can_encrypt) return std::nullopt;
  return k->fingerprint;
}

Status Outbox::check_notifications(const NotifyRequest& request, const std::vector<Vendor>& vendors) {
  auto keys = notification_keys(request, vendors);
  if (!keys) return keys.error();
  return ok_status();
}

Result<std::vector<std::optional<std::string>>> Outbox::notification_keys(const NotifyRequest& request,
                                                                          const std::vector<Vendor>& vendors) {
  auto target = queue_.reply_case(request.case_id);  // refuses a merged case
  if (!target) return target.error();
  if (vendors.empty()) return Error{Errc::invalid, "name at least one vendor"};
  if (request.sign_only && !request.attachments.empty())
    return Error{Errc::invalid, "--attach sends files only inside the encryption: not with --sign-only"};
  std::vector<std::string> no_contact, no_key;
  std::vector<std::optional<std::string>> keys;
  for (const auto& v : vendors) {
    keys.push_back(vendor_key(v));
    if (v.contacts.empty()) no_contact.push_back(v.name);
    else if (!request.sign_only && !keys.back()) no_key.push_back(v.name);
    if (!valid_addr_spec(vendor_reply_to(options_.alias, target->id, v.name)))
      return Error{Errc::invalid, fmt::format("vendor {}: alias+{}.{} is not a valid address; rename the vendor",
                                              v.name, target->id, v.name)};
  }
  if (!no_contact.empty())
    return Error{Errc::refused, fmt::format("no mail contact for vendor(s) {} (casectl vendor edit NAME --contact "
                                            "ADDR); nothing was queued",
                                            joined(no_contact))};
  if (!no_key.empty())
    return Error{Errc::refused,
                 fmt::format("no usable key for vendor(s) {} (casectl vendor edit NAME --key FILE|FPR, or --sign-only "
                             "to send signed but unencrypted); nothing was queued",
                             joined(no_key))};
  return keys;
}

Result<std::vector<Queued>> Outbox::queue_notifications(const NotifyRequest& request,
                                                        const std::vector<Vendor>& vendors) {
  auto keys = notification_keys(request, vendors);
  if (!keys) return keys.error();
  auto target = queue_.reply_case(request.case_id);
  if (!target) return target.error();
  const std::int64_t case_id = target->id;
  const std::int64_t now = now_unix();
  std::vector<Notification> batch;
  std::vector<Queued> out;
  batch.reserve(vendors.size());
  for (std::size_t i = 0; i < vendors.size(); ++i) {
    const Vendor& v = vendors[i];
    const std::optional<std::string>& key = (*keys)[i];
    const bool encrypt = key.has_value();  // checked above: no key only with sign_only
    compose::Draft draft{options_.alias, v.contacts, compose::make_message_id(case_id, now, options_.alias),
                         compose::notify_subjects(options_.tag, case_id, encrypt), request.text, "", {}, false, now,
                         {}, request.attachments, vendor_reply_to(options_.alias, case_id, v.name)};
    compose::Sealing sealing{options_.signing_key, encrypt, encrypt ? std::vector{*key} : std::vector<std::string>{}, {}};
    auto composed = compose::compose(draft, sealing, crypto_);
    if (!composed) return composed.error();
    std::string detail =
        fmt::format("notification {} to {} ({}){}{}", draft.message_id, v.name, joined(v.contacts),
                    draft.attachments.empty() ? "" : fmt::format(" with {} file(s)", draft.attachments.size()),
                    encrypt ? " (signed, encrypted to " + *key + ")" : " (signed only, NOT encrypted)");
    batch.push_back({v.name, record_of(case_id, draft, *composed, encrypt), {"notify", request.actor, detail}});
    out.push_back(Queued{0, case_id, v.contacts, draft.message_id, encrypt, {}});
  }
  auto ids = queue_.enqueue_notifications(case_id, batch, request.actor, now);
  if (!ids) return ids.error();
  for (std::size_t i = 0; i < out.size(); ++i) out[i].outbox_id = (*ids)[i];
  return out;
}

}  // namespace cased
