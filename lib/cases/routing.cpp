#include "cases/routing.hpp"

#include <algorithm>
#include <map>
#include <utility>
#include <unordered_set>

#include "cases/acknowledgement.hpp"
#include "cases/bounce.hpp"
#include "cases/threading.hpp"
#include "cases/vendor_address.hpp"
#include "mail/address.hpp"

namespace cased {
namespace {

// Before the rules: a bounce of mail we sent goes to that mail's case.
bool route_bounce(const PreparedMessage& msg, RoutingLookup& lookup, RoutingDecision& d) {
  std::optional<BounceInfo> info = bounce_info(msg);
  if (!info) return false;
  for (const auto& id : info->quoted_ids) {
    auto sent_from = lookup.outbound_case(id);
    auto target = sent_from ? lookup.resolve_case(*sent_from) : std::nullopt;
    if (!target) continue;
    d.case_id = target;
    d.rule = RouteRule::bounce;
    d.bounce = Bounce{id, std::move(info->recipients), std::move(info->delivered)};
    return true;
  }
  return false;  // quotes nothing of ours: routed like any message
}

// Rules 1 and 2: the case a plus-address or a subject tag names, if it
// exists. Neither says anything about trust.
bool route_by_address(const PreparedMessage& msg, const RoutingOptions& o, RoutingLookup& lookup, RoutingDecision& d) {
  const ParsedMessage& pm = msg.parsed;
  auto take = [&](std::optional<std::int64_t> named, RouteRule rule) {
    if (named) d.case_id = lookup.resolve_case(*named);
    if (d.case_id) d.rule = rule;
    return d.case_id.has_value();
  };
  // Rule 1: a plus-address. Over LMTP the envelope decides, else the headers.
  PlusForm plus;
  if (msg.envelope.source == MessageSource::lmtp) {
    plus = plus_target(msg.envelope.recipients, o.alias);
  } else {
    std::vector<std::string> addrs;
    for (auto* list : {&pm.delivered_to, &pm.x_original_to, &pm.to, &pm.cc})
      addrs.insert(addrs.end(), list->begin(), list->end());
    plus = plus_target(addrs, o.alias);
  }
  if (plus.named && !plus.named->vendor.empty()) {
    // alias+ID.NAME: case ID as vendor NAME's, when NAME is a vendor of
    // the case; else the address is ignored (and noted) and the other
    // rules decide: a made-up NAME creates nothing.
    auto target = lookup.resolve_case(plus.named->case_id);
    if (target && lookup.case_has_vendor(*target, plus.named->vendor)) {
      d.case_id = target;
      d.rule = RouteRule::plus_address;
      d.vendor_claim = plus.named->vendor;
      return true;
    }
    d.stray_vendor_address = plus.named;
  } else if (take(plus.named ? std::optional<std::int64_t>(plus.named->case_id) : std::nullopt,
                  RouteRule::plus_address)) {
    return true;
  }
  // Rule 2: a subject tag, in the (protected) subject or the outer one.
  auto tag = subject_tag(pm.subject, o.tag);
  if (!tag && !pm.outer_subject.empty()) tag = subject_tag(pm.outer_subject, o.tag);
  return take(tag, RouteRule::subject_tag);
}

// Every case a References/In-Reply-To lookup finds: the messages named, the
// messages that name the same ancestors, the messages naming this one (a
// parent that arrives after its reply), and an earlier copy of this one.
// `named` gets the cases of the messages named.
std::set<std::int64_t> related_cases(const RoutingInput& in, const std::vector<std::string>& refs,
                                     RoutingLookup& lookup, std::set<std::int64_t>& named) {
  std::set<std::int64_t> related;
  auto collect = [&](const std::vector<std::int64_t>& cases, bool direct) {
    for (auto stored : cases)
      if (auto c = lookup.resolve_case(stored)) {
        related.insert(*c);
        if (direct) named.insert(*c);
      }
  };
  for (const auto& r : refs) {
    collect(lookup.cases_of_message(r), true);
    collect(lookup.cases_referencing(r), false);
  }
  collect(lookup.cases_referencing(in.message_id), false);
  if (in.same_id_stored) collect(lookup.cases_of_message(in.message_id), false);
  return related;
}

// Cases an analyst split apart (casectl split) stay apart. A message
// naming a message that was split off goes with it, not to the case it
// came from; and two such cases are never joined.
class SplitCases {
 public:
  SplitCases(const std::set<std::int64_t>& related, RoutingLookup& lookup) {
    for (auto c : related) origins_[c] = lookup.split_origins(c);
  }
  // Whether one of the two was split (at some remove) from the other.
  bool apart(std::int64_t a, std::int64_t b) const { return split_from(a, b) || split_from(b, a); }
  // `related` but the cases a named case was split from.
  std::set<std::int64_t> without_origins(const std::set<std::int64_t>& related,
                                         const std::set<std::int64_t>& named) const {
    std::set<std::int64_t> kept = related;
    for (auto c : named)
      if (auto it = origins_.find(c); it != origins_.end())
        for (auto o : it->second)
          if (o != c) kept.erase(o);
    return kept.empty() ? related : kept;
  }

 private:
  bool split_from(std::int64_t c, std::int64_t origin) const {
    auto it = origins_.find(c);
    return it != origins_.end() && std::find(it->second.begin(), it->second.end(), origin) != it->second.end();
  }
  std::map<std::int64_t, std::vector<std::int64_t>> origins_;
};

// Whether the sender is a verified participant of the case. A From that
// failed DMARC never is, nor an empty From or the alias itself.
bool sender_verified(const RoutingDecision& d, std::int64_t case_id, const RoutingOptions& o, RoutingLookup& lookup) {
  if (d.forged || d.sender.empty() || match_alias(d.sender, o.alias).ours) return false;
  return lookup.verified_participant(case_id, d.sender);
}

// Rule 3 and its trust. Of the related cases: the lowest-numbered one the
// sender is verified in, else the lowest, the same whatever order the
// References list them in. Cases are joined only when that hands nobody
// anything: a thread split by arrival order (a reply before its parent)
// whose cases have the same verified people, the sender among them.
// Anything else is for an analyst, and what an analyst split apart is
// neither joined nor noted. Sets `unverified` as it finds it.
bool route_by_references(const RoutingInput& in, const RoutingOptions& o, RoutingLookup& lookup, RoutingDecision& d) {
  std::set<std::int64_t> named;
  std::set<std::int64_t> related = related_cases(in, d.refs, lookup, named);
  if (related.empty()) return false;
  SplitCases splits(related, lookup);
  related = splits.without_origins(related, named);
  std::vector<std::int64_t> verified_in;
  for (auto c : related)
    if (sender_verified(d, c, o, lookup)) verified_in.push_back(c);
  std::int64_t target = verified_in.empty() ? *related.begin() : verified_in.front();
  auto apart = [&](std::int64_t c) { return c != target && splits.apart(c, target); };
  std::erase_if(related, apart);
  std::erase_if(verified_in, apart);
  bool same_people = verified_in.size() == related.size();
  if (same_people && related.size() > 1) {
    auto people = lookup.verified_people(target);
    for (auto c : related)
      if (c != target && lookup.verified_people(c) != people) {
        same_people = false;
        break;
      }
  }
  for (auto c : related)
    if (c != target) (same_people ? d.join : d.not_merged).push_back(c);
  d.case_id = target;
  d.rule = RouteRule::references;
  d.unverified = d.forged || verified_in.empty();
  return true;
}

// Whose the message is, once its case is known (coordinating with
// vendors). It claims vendor NAME when it came to alias+ID.NAME or answers
// one of our notifications to NAME in this case. Both are known to the
// vendor and the address is guessable, so a claim grants nothing: the
// message is NAME's only when its sender proves it, by a From that is one
// of NAME's contacts in the book (and did not fail DMARC), or by a good
// signature (over the whole text) by NAME's key. Unproven, the message
// still joins the case, unverified. Without a claim, mail from a contact
// (or signed by the key) of a vendor of the case is that vendor's too, so
// that it is never taken for the reporter's. A delivery report on a
// notification is the vendor's too.
void decide_party(const PreparedMessage& msg, RoutingLookup& lookup, RoutingDecision& d) {
  d.participant_verified = !d.unverified;
  if (d.bounce) {
    // A report on a notification is shown with its vendor (never a reply of its own).
    if (auto n = lookup.notification(d.bounce->message_id)) d.vendor = n->vendor;
    return;
  }
  if (!d.case_id) return;
  const std::int64_t c = *d.case_id;
  if (!d.vendor_claim)
    for (const auto& r : d.refs)
      if (auto n = lookup.notification(r); n && lookup.resolve_case(n->case_id) == c) {
        d.vendor_claim = n->vendor;
        break;
      }
  const ParsedMessage& pm = msg.parsed;
  std::vector<std::string> by_contact, by_key;
  if (!d.forged && !d.sender.empty()) by_contact = lookup.case_vendors_with_contact(c, d.sender);
  if (pm.signature == SignatureState::good && pm.signer) by_key = lookup.case_vendors_with_key(c, *pm.signer);
  auto has = [](const std::vector<std::string>& v, const std::string& n) {
    return std::find(v.begin(), v.end(), n) != v.end();
  };
  if (d.vendor_claim) {
    if (!has(by_contact, *d.vendor_claim) && !has(by_key, *d.vendor_claim)) {
      d.unverified = true;
      d.participant_verified = false;
      return;
    }
    d.vendor = std::exchange(d.vendor_claim, std::nullopt);
  } else if (!by_contact.empty()) {
    d.vendor = by_contact.front();
  } else if (!by_key.empty()) {
    d.vendor = by_key.front();
  }
  if (!d.vendor) return;
  // A contact joins as the vendor's verified participant; a signer writing
  // from another address proves this message, not that address.
  d.participant_verified = d.participant_verified || has(by_contact, *d.vendor);
  d.unverified = false;
}

// Every new case from a person gets one acknowledgement, so that a reporter
// who sends three reports learns three case tags; a message to an existing
// case gets none. RFC 3834 asks a responder not to send the same response to
// a sender again within some days: each acknowledgement here is a different
// response (another case's tag), so repeating it is not what RFC 3834 guards
// against.
//
// Mail loops stay impossible, in layers:
//  - automatic mail gets nothing (acknowledgement_address(): empty return
//    path, Auto-Submitted, Precedence bulk/list/junk, List-Id, robots, the
//    alias itself, another cased's mark), and ours says Auto-Submitted:
//    auto-replied, so an RFC 3834 responder never answers it;
//  - a responder that answers anyway quotes our Message-ID in In-Reply-To or
//    our tag in the subject: its answer joins the case it answers (routing
//    rules 1-3), which is not new, so it is not acknowledged: two
//    auto-responders stop after one exchange;
//  - one that strips both opens a new case each time, and gets at most
//    `ack_per_day` acknowledgements in any 24 hours, counted from the stored
//    outbox, so a restart does not start the count again; smtp's
//    max_per_recipient_per_day caps all mail to it besides;
//  - and all acknowledgements together are at most `ack_per_hour` in any
//    hour, so that mail forged from many addresses (in domains without
//    DMARC) cannot make the alias a reflector for spam.
// A forged From gets none: it would be backscatter to whoever was named.
Acknowledgement acknowledgement(const RoutingInput& in, const RoutingOptions& o, const RoutingDecision& d,
                                RoutingLookup& lookup) {
  using Kind = Acknowledgement::Kind;
  if (d.case_id || !o.acknowledge) return {};
  if (d.forged) return {Kind::forged_from, {}};
  auto address = acknowledgement_address(in.msg, o.alias);
  if (!address) return {};
  constexpr std::int64_t kDay = 86400, kHour = 3600;
  if (lookup.acknowledgements_since(*address, in.now - kDay) >= o.ack_per_day) return {Kind::capped, *address};
  if (lookup.all_acknowledgements_since(in.now - kHour) >= o.ack_per_hour) return {Kind::busy, *address};
  return {Kind::queue, std::move(*address)};
}

}  // namespace

std::string_view rule_name(RouteRule rule) {
  switch (rule) {
    case RouteRule::bounce: return "bounce";
    case RouteRule::plus_address: return "plus-address";
    case RouteRule::subject_tag: return "subject tag";
    case RouteRule::references: return "references";
    case RouteRule::new_case: return "new case";
  }
  return "new case";
}

RoutingDecision route_message(const RoutingInput& in, const RoutingOptions& options, RoutingLookup& lookup) {
  const ParsedMessage& pm = in.msg.parsed;
  RoutingDecision d;
  d.sender = normalize_address(pm.from);
  // What the receiving MTA said; a From that failed DMARC is not believed.
  d.auth = trusted_auth_results(in.msg.raw, options.authserv_id);
  d.forged = d.auth && d.auth->dmarc_failed();
  d.refs = message_refs(pm, in.message_id);
  if (in.msg.envelope.source == MessageSource::web) {
    // A web report opens a case of its own: a tag typed into its title
    // names no case (cased made the message; it has no references).
    d.refs.clear();
  } else if (route_bounce(in.msg, lookup, d)) {
    d.unverified = false;  // its sender joins nothing: a report about our mail, not a word in the case
  } else if (route_by_address(in.msg, options, lookup, d)) {
    d.unverified = d.forged || !sender_verified(d, *d.case_id, options, lookup);
  } else if (!route_by_references(in, options, lookup, d)) {
    // Rule 4: a new case. Its sender opens it and is its first verified
    // participant, unless the From is forged: then it is nobody's.
    d.unverified = d.forged;
  }
  decide_party(in.msg, lookup, d);
  // A person joins as a participant: never the alias itself, never a bounce.
  d.participant = !d.bounce && !d.sender.empty() && !match_alias(d.sender, options.alias).ours;
  // An anonymous web report's From is a placeholder, the same for all of
  // them: whoever writes from it is nobody's participant.
  const Envelope& env = in.msg.envelope;
  if (env.source == MessageSource::web && env.mail_from && env.mail_from->empty()) d.participant = false;
  d.ack = acknowledgement(in, options, d, lookup);
  return d;
}

std::string_view no_pin_reason(const RoutingDecision& d) {
  if (d.bounce) return "it is a bounce";
  if (d.forged) return "its From failed DMARC";
  if (d.unverified) return "the sender is not a verified participant";
  return "";
}

std::vector<std::string> message_refs(const ParsedMessage& pm, const std::string& message_id) {
  // At most this many: the In-Reply-To ids and the closest ancestors (the
  // end of References). Each costs lookups and a stored row, and a sender
  // can name tens of thousands.
  constexpr std::size_t kMaxRefs = 256;
  std::vector<std::string> refs;
  std::unordered_set<std::string_view> seen;
  auto take = [&](const std::string& r) {
    if (refs.size() < kMaxRefs && !r.empty() && r != message_id && seen.insert(r).second) refs.push_back(r);
  };
  for (const auto& r : pm.in_reply_to) take(r);
  std::size_t parents = refs.size();
  for (auto it = pm.references.rbegin(); it != pm.references.rend(); ++it) take(*it);
  // References in their written order, oldest first, after In-Reply-To.
  std::reverse(refs.begin() + static_cast<std::ptrdiff_t>(parents), refs.end());
  return refs;
}

}  // namespace cased
