#include "output.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "crypto/crypto.hpp"
#include "core/text.hpp"
#include "core/util.hpp"

namespace cased::cli {
namespace {

nlohmann::json opt(const std::optional<std::string>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

// Whether `problems` ("; "-joined) holds exactly `entry`.
bool has_problem(const std::optional<std::string>& problems, std::string_view entry) {
  if (!problems) return false;
  std::string_view rest = *problems;
  while (!rest.empty()) {
    auto sep = rest.find("; ");
    if (rest.substr(0, sep) == entry) return true;
    rest = sep == std::string_view::npos ? std::string_view() : rest.substr(sep + 2);
  }
  return false;
}

// Whether a user id of the signer's key names the From address; null
// without a good (or partial) signature by a known key.
nlohmann::json signer_matches_from(const MessageView& m) {
  // An S/MIME signer's certificate is known whatever its chain is worth.
  if ((m.signature != SignatureState::good && m.signature != SignatureState::partial && !m.smime) || !m.signer)
    return nullptr;
  return !has_problem(m.problems, kSignerNotFrom);
}

// The S/MIME signer's certificate and how far it is trusted: null when none.
nlohmann::json smime_json(const std::optional<SmimeSigner>& c) {
  if (!c) return nullptr;
  return {{"fingerprint", c->fingerprint}, {"subject", c->subject}, {"issuer", c->issuer},
          {"addresses", c->addresses},     {"chain", c->chain},     {"revocation", c->revocation},
          {"reason", c->reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(c->reason)}};
}

// The receiving MTA's verdict: null when none was recorded.
nlohmann::json auth_json(const std::optional<AuthResults>& a) {
  if (!a) return nullptr;
  auto result = [](const std::string& r) { return r.empty() ? nlohmann::json(nullptr) : nlohmann::json(r); };
  return {{"authserv_id", a->authserv_id},
          {"dkim", result(a->dkim)},
          {"spf", result(a->spf)},
          {"dmarc", result(a->dmarc)},
          {"header", a->header}};
}

std::string auth_line(const AuthResults& a) {
  auto result = [](const std::string& r) { return r.empty() ? std::string("-") : display_safe(r); };
  std::string line = fmt::format("dkim={} spf={} dmarc={} (by {})", result(a.dkim), result(a.spf), result(a.dmarc),
                                 clip(a.authserv_id, 60));
  if (a.dmarc_failed()) line += "; From FAILED DMARC: treat it as forged";
  return line;
}

const char* status_color(const std::string& status) {
  if (status == "new") return "\033[1;33m";
  if (status == "open") return "\033[1;36m";
  if (status == "waiting") return "\033[35m";
  if (status == "resolved") return "\033[32m";
  return "\033[2m";
}

std::string colored(const TextStyle& style, const char* code, const std::string& text) {
  return style.color ? fmt::format("{}{}\033[0m", code, text) : text;
}

// Display width of UTF-8 text, counting code points (good enough for a table).
std::size_t width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string pad(const std::string& s, std::size_t w) { return s + std::string(w > width(s) ? w - width(s) : 0, ' '); }

// Multi-line text a sender wrote, made inert for the terminal (keeps newlines and tabs).
std::string safe_text(const std::string& s) { return display_safe(s, true); }

std::string when(std::int64_t t) { return format_rfc3339(t); }

std::string age(std::int64_t t) {
  std::int64_t d = now_unix() - t;
  if (d < 3600) return fmt::format("{}m", std::max<std::int64_t>(0, d / 60));
  if (d < 86400) return fmt::format("{}h", d / 3600);
  return fmt::format("{}d", d / 86400);
}

}  // namespace

nlohmann::json to_json(const CaseSummary& s) {
  return {{"id", s.id},
          {"subject", s.subject},
          {"status", s.status},
          {"assignee", opt(s.assignee)},
          {"created", format_rfc3339(s.created)},
          {"updated", format_rfc3339(s.updated)},
          {"messages", s.messages},
          {"participants", s.participants},
          {"embargo", opt(s.embargo)},
          {"cves", s.cves},
          {"resolution", opt(s.resolution)},
          {"tags", s.tags}};
}

namespace {

std::string csv_cell(const nlohmann::json& v) {
  std::string text;
  if (v.is_null()) return text;
  if (v.is_string()) text = v.get<std::string>();
  else if (v.is_array())
    for (const auto& item : v) text += (text.empty() ? "" : " ") + item.get<std::string>();
  else text = v.dump();
  if (!text.empty() && std::string_view("=+-@\t\r").find(text.front()) != std::string_view::npos) text.insert(0, "'");
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char ch : text) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return quoted + "\"";
}

}  // namespace

std::string render_csv(const std::vector<CaseSummary>& cases, const std::function<void(std::size_t)>& on_row) {
  static const std::vector<std::string> keys = {"id",      "subject",  "status",       "assignee", "created",
                                                "updated", "messages", "participants", "embargo",  "cves",
                                                "resolution", "tags"};
  std::string out;
  for (std::size_t i = 0; i < keys.size(); ++i) out += (i ? "," : "") + keys[i];
  out += "\r\n";
  for (const auto& c : cases) {
    nlohmann::json item = to_json(c);
    for (std::size_t i = 0; i < keys.size(); ++i) out += (i ? "," : "") + csv_cell(item[keys[i]]);
    out += "\r\n";
    if (on_row) on_row(static_cast<std::size_t>(&c - cases.data()) + 1);
  }
  return out;
}

nlohmann::json to_json(const CaseDetail& d) {
  nlohmann::json j = to_json(d.summary);
  j["message_count"] = d.summary.messages;
  nlohmann::json msgs = nlohmann::json::array();
  for (const auto& m : d.messages) {
    nlohmann::json atts = nlohmann::json::array();
    for (std::size_t i = 0; i < m.attachments.size(); ++i) {
      const Attachment& a = m.attachments[i];
      atts.push_back({{"handle", fmt::format("{}.{}", m.id, i + 1)},
                      {"filename", a.filename},
                      {"content_type", a.content_type},
                      {"size", a.size},
                      {"sha256", a.sha256},
                      {"encrypted", a.encrypted},
                      {"signed", a.is_signed}});
    }
    msgs.push_back({{"id", m.id},
                    {"message_id", m.message_id},
                    {"direction", m.direction},
                    {"source", m.source},
                    {"from", m.from},
                    {"from_name", m.from_name},
                    {"to", m.to},
                    {"cc", m.cc},
                    {"date", m.date ? nlohmann::json(format_rfc3339(*m.date)) : nlohmann::json(nullptr)},
                    {"received", format_rfc3339(m.received)},
                    {"subject", m.subject},
                    {"encrypted", m.encrypted},
                    {"mixed", m.mixed},
                    {"decryption", to_string(m.decryption)},
                    {"decryption_error", opt(m.decryption_error)},
                    {"signature", to_string(m.signature)},
                    {"signer", opt(m.signer)},
                    {"signer_uid", opt(m.signer_uid)},
                    {"signer_matches_from", signer_matches_from(m)},
                    {"crypto", opt(m.crypto)},
                    {"smime", smime_json(m.smime)},
                    {"unverified", m.unverified},
                    {"party", message_party(m)},
                    {"malformed", m.malformed},
                    {"problems", opt(m.problems)},
                    {"auth", auth_json(m.auth)},
                    {"body", m.body},
                    {"attachments", atts},
                    {"outbox", m.outbox ? nlohmann::json{{"id", m.outbox->id}, {"status", to_string(m.outbox->status)}}
                                        : nlohmann::json(nullptr)}});
  }
  j["messages"] = msgs;
  nlohmann::json comments = nlohmann::json::array();
  for (const auto& c : d.comments)
    comments.push_back({{"author", c.author}, {"text", c.text}, {"created", format_rfc3339(c.created)}});
  j["comments"] = comments;
  nlohmann::json events = nlohmann::json::array();
  for (const auto& e : d.events)
    events.push_back(
        {{"kind", e.kind}, {"actor", e.actor}, {"created", format_rfc3339(e.created)}, {"detail", e.detail}});
  j["events"] = events;
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& p : d.participants)
    parts.push_back({{"address", p.address},
                     {"name", p.name},
                     {"role", p.role},
                     {"verified", p.verified},
                     {"bouncing", p.bouncing}});
  j["participant_details"] = parts;
  j["disclosure"] = to_json(d.disclosure);
  j["merged_into"] = d.merged_into ? nlohmann::json(*d.merged_into) : nlohmann::json(nullptr);
  j["split_from"] = d.split_from ? nlohmann::json(*d.split_from) : nlohmann::json(nullptr);
  j["vendors"] = to_json(d.vendors);
  return j;
}

nlohmann::json to_json(const Disclosure& d) {
  nlohmann::json cvss = nullptr;
  if (d.cvss)
    cvss = {{"vector", d.cvss->vector},
            {"version", d.cvss->version},
            {"base_score", d.cvss->base_score ? nlohmann::json(*d.cvss->base_score) : nlohmann::json(nullptr)},
            {"severity", opt(d.cvss->severity)}};
  return {{"embargo", opt(d.embargo)},
          {"cves", d.cves},
          {"product", opt(d.product)},
          {"versions", opt(d.versions)},
          {"cvss", cvss}};
}

nlohmann::json to_json(const IngestResult& r) {
  return {{"case", r.case_id}, {"message", r.message}, {"new_case", r.new_case}, {"duplicate", r.duplicate}};
}

namespace {

// The list's CVE column: the first id, "+N" for the others.
std::string cve_cell(const std::vector<std::string>& cves) {
  if (cves.empty()) return "-";
  std::string first = clip(cves.front(), 24);
  return cves.size() == 1 ? first : fmt::format("{} +{}", first, cves.size() - 1);
}

// "received"; for an outbound message its outbox state (queued, sent, failed,
// cancelled), or "sent" when no outbox row sends it.
std::string message_state(const MessageView& m) {
  if (m.direction == "in") return "received";
  return m.outbox ? std::string(to_string(m.outbox->status)) : "sent";
}

// The list's tags after the subject: " (crash web)", clipped; nothing without tags.
std::string tags_cell(const std::vector<std::string>& tags) {
  if (tags.empty()) return {};
  return fmt::format(" ({})", clip(fmt::format("{}", fmt::join(tags, " ")), 40));
}

}  // namespace

std::string render_list(const std::vector<CaseSummary>& cases, const TextStyle& style) {
  if (cases.empty()) return "no cases\n";
  std::size_t id_w = 2, st_w = 6, as_w = 8, em_w = 7, cve_w = 3;
  std::vector<std::string> ids, cves;
  for (const auto& c : cases) {
    ids.push_back(fmt::format("{}#{}", style.tag, c.id));
    cves.push_back(cve_cell(c.cves));
    id_w = std::max(id_w, width(ids.back()));
    as_w = std::max(as_w, width(clip(c.assignee.value_or("-"), 16)));
    st_w = std::max(st_w, c.status.size());
    em_w = std::max(em_w, width(clip(c.embargo.value_or("-"), 20)));
    cve_w = std::max(cve_w, width(cves.back()));
  }
  std::string out = fmt::format("{}  {}  {}  {:>4}  {:>5}  {}  {}  {}\n", pad("CASE", id_w), pad("STATUS", st_w),
                                pad("ASSIGNEE", as_w), "MSGS", "IDLE", pad("EMBARGO", em_w), pad("CVE", cve_w),
                                "SUBJECT");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    out += fmt::format("{}  {}  {}  {:>4}  {:>5}  {}  {}  {}\n", pad(ids[i], id_w),
                       colored(style, status_color(c.status), pad(c.status, st_w)),
                       pad(clip(c.assignee.value_or("-"), 16), as_w), c.messages, age(c.updated),
                       pad(clip(c.embargo.value_or("-"), 20), em_w), pad(cves[i], cve_w),
                       clip(c.subject, 70) + tags_cell(c.tags));
  }
  return out;
}

namespace {

// The case's title line and its fields: status, tags, merge and split, assignee, times.
std::string case_header(const CaseDetail& d, const TextStyle& style) {
  const auto& s = d.summary;
  std::string out;
  out += colored(style, "\033[1m", fmt::format("[{}#{}] {}", style.tag, s.id, clip(s.subject, 200))) + "\n";
  out += fmt::format("Status:       {}{}\n", colored(style, status_color(s.status), s.status),
                     s.resolution ? fmt::format(" ({})", *s.resolution) : std::string());
  if (!s.tags.empty()) out += fmt::format("Tags:         {}\n", fmt::join(s.tags, " "));
  if (d.merged_into)
    out += fmt::format("Merged into:  [{0}#{1}] (its messages are there: casectl show {1})\n", style.tag, *d.merged_into);
  if (d.split_from) out += fmt::format("Split from:   [{}#{}]\n", style.tag, *d.split_from);
  out += fmt::format("Assignee:     {}\n", clip(s.assignee.value_or("-"), 80));
  out += fmt::format("Created:      {}\n", when(s.created));
  out += fmt::format("Last activity:{}{}\n", " ", when(s.updated));
  return out;
}

// Embargo, CVE ids, product, versions and severity, each when set.
std::string disclosure_lines(const Disclosure& dis) {
  std::string out;
  if (dis.embargo) out += fmt::format("Embargo:      {}\n", clip(*dis.embargo, 40));
  if (!dis.cves.empty()) out += fmt::format("CVE:          {}\n", clip(fmt::format("{}", fmt::join(dis.cves, ", ")), 400));
  if (dis.product) out += fmt::format("Product:      {}\n", clip(*dis.product, 200));
  if (dis.versions) out += fmt::format("Versions:     {}\n", clip(*dis.versions, 200));
  if (dis.cvss)
    out += fmt::format("Severity:     {}{}\n", clip(dis.cvss->vector, 200),
                       dis.cvss->base_score ? fmt::format(" ({:.1f} {})", *dis.cvss->base_score, dis.cvss->severity.value_or(""))
                                            : std::string());
  return out;
}

std::string participant_lines(const std::vector<ParticipantView>& participants) {
  std::string out;
  for (const auto& p : participants)
    out += fmt::format("Participant:  {} ({}{}{})\n", clip(p.address, 200), p.role, p.verified ? "" : ", unverified",
                       p.bouncing ? ", bouncing" : "");
  return out;
}

// A message's addresses: From, To, Cc, its outbox row, Date, Subject, Message-ID.
std::string message_headers(const MessageView& m) {
  std::string out = fmt::format("From:       {}{}\n", m.from_name.empty() ? "" : clip(m.from_name, 80) + " ",
                                m.from.empty() ? "" : "<" + clip(m.from, 200) + ">");
  if (!m.to.empty()) {
    std::string to;
    for (const auto& t : m.to) to += (to.empty() ? "" : ", ") + clip(t, 200);
    out += fmt::format("To:         {}\n", to);
  }
  if (!m.cc.empty()) out += fmt::format("Cc:         {}\n", addresses(m.cc));
  if (m.outbox) out += fmt::format("Outbox:     {} ({})\n", m.outbox->id, to_string(m.outbox->status));
  if (m.date) out += fmt::format("Date:       {}\n", when(*m.date));
  out += fmt::format("Subject:    {}\n", clip(m.subject, 200));
  out += fmt::format("Message-ID: {}\n", clip(m.message_id, 200));
  return out;
}

// What the message's encryption and signature were, the MTA's verdict, and the warnings they call for.
std::string message_security(const MessageView& m, const TextStyle& style) {
  std::string crypto = m.encrypted ? "encrypted" : (m.mixed ? "MIXED: only some parts were encrypted" : "not encrypted");
  if (m.decryption == DecryptionState::failed)
    crypto = "decryption FAILED" + (m.decryption_error ? ": " + clip(*m.decryption_error, 200) : std::string());
  else if (m.decryption_error)
    crypto += " (" + clip(*m.decryption_error, 200) + ")";
  std::string sig = m.signature == SignatureState::none ? "unsigned" : fmt::format("signature {}", to_string(m.signature));
  if (m.signer) sig += " by " + clip(*m.signer, 64) + (m.signer_uid ? " " + clip(*m.signer_uid, 120) : "");
  std::string out = fmt::format("Security:   {}, {}\n", crypto, sig);
  if (m.auth) out += fmt::format("Auth:       {}\n", auth_line(*m.auth));
  if (m.smime) {
    const SmimeSigner& c = *m.smime;
    out += fmt::format("S/MIME:     {}\nIssuer:     {}\nCertificate: {}, chain {}, revocation {}\n", clip(c.subject, 200),
                       clip(c.issuer, 200), clip(c.fingerprint, 64), clip(c.chain, 20), clip(c.revocation, 20));
    if (c.chain != "good")
      out += colored(style, "\033[1;31m",
                     "Warning:    the signer's certificate is " +
                         (c.chain == "untrusted" ? std::string("not from a trusted CA") : clip(c.chain, 20)) +
                         (c.reason.empty() ? std::string() : " (" + clip(c.reason, 120) + ")")) +
             "\n";
  }
  if (m.signature == SignatureState::partial)
    out += colored(style, "\033[1;31m", "Warning:    the signature covers only the parts marked [signed part]") + "\n";
  if (signer_matches_from(m) == false)
    out += colored(style, "\033[1;31m", m.smime ? "Warning:    the signer's certificate does not name the From address"
                                  : "Warning:    the signer's key does not name the From address") + "\n";
  if (m.unverified) out += colored(style, "\033[1;31m", "Warning:    sender is not a verified participant of this case") + "\n";
  if (m.malformed) out += fmt::format("Warning:    malformed message ({})\n", clip(m.problems.value_or("stored raw"), 400));
  return out;
}

std::string attachment_lines(const MessageView& m) {
  std::string out;
  for (std::size_t i = 0; i < m.attachments.size(); ++i) {
    const Attachment& a = m.attachments[i];
    out += fmt::format("Attachment: {}.{} {} ({}, {} bytes{}{}) sha256:{}\n", m.id, i + 1,
                       a.filename.empty() ? "(unnamed)" : clip(a.filename, 120),
                       clip(a.content_type, 80), a.size, a.encrypted ? ", encrypted" : "", a.is_signed ? ", signed" : "",
                       clip(a.sha256, 64));
  }
  return out;
}

// One message: its banner, headers, security, attachments, and its body made inert.
std::string render_message(const MessageView& m, const TextStyle& style) {
  std::string out = "\n";
  out += colored(style, "\033[1;34m", fmt::format("--- message {} ({}) {} ---", m.id, message_state(m), when(m.received)));
  out += "\n";
  out += message_headers(m) + message_security(m, style) + attachment_lines(m);
  out += "\n" + safe_text(m.body);
  if (!m.body.empty() && m.body.back() != '\n') out += "\n";
  return out;
}

std::string comment_lines(const std::vector<CommentView>& comments, const TextStyle& style) {
  if (comments.empty()) return {};
  std::string out = "\n" + colored(style, "\033[1m", "Comments") + "\n";
  for (const auto& c : comments) out += fmt::format("{} {}:\n{}\n", when(c.created), clip(c.author, 40), safe_text(c.text));
  return out;
}

std::string history_lines(const std::vector<EventView>& events, const TextStyle& style) {
  std::string out = "\n" + colored(style, "\033[1m", "History") + "\n";
  for (const auto& e : events)
    out += fmt::format("{}  {:<11} {:<10} {}\n", when(e.created), clip(e.kind, 11), clip(e.actor, 10), clip(e.detail, 160));
  return out;
}

}  // namespace

namespace {

// The conversation by party: the reporter's first, then each vendor's (by
// name), then the unverified mail, each in the order received, under a
// heading. A case with one party only is shown without one.
std::string conversation(const std::vector<MessageView>& messages, const TextStyle& style) {
  auto rank = [](const std::string& party) { return party == "reporter" ? 0 : party == "unverified" ? 2 : 1; };
  std::vector<std::pair<std::string, std::vector<const MessageView*>>> groups;
  for (const auto& m : messages) {
    std::string party = message_party(m);
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == party; });
    if (it == groups.end()) it = groups.insert(groups.end(), {party, {}});
    it->second.push_back(&m);
  }
  std::stable_sort(groups.begin(), groups.end(), [&](const auto& a, const auto& b) {
    return rank(a.first) != rank(b.first) ? rank(a.first) < rank(b.first) : a.first < b.first;
  });
  std::string out;
  for (const auto& [party, list] : groups) {
    if (groups.size() > 1) {
      std::string title = party == "reporter"     ? std::string("Reporter")
                          : party == "unverified" ? std::string("Unverified senders")
                                                  : "Vendor " + display_safe(party.substr(party.find(':') + 1));
      out += "\n" + colored(style, "\033[1m", fmt::format("=== {} ({} message{}) ===", title, list.size(),
                                                            list.size() == 1 ? "" : "s")) + "\n";
    }
    for (const auto* m : list) out += render_message(*m, style);
  }
  return out;
}

}  // namespace

std::string render_case(const CaseDetail& d, const TextStyle& style) {
  std::string out = case_header(d, style) + disclosure_lines(d.disclosure) + participant_lines(d.participants);
  out += render_vendors(d.vendors, style);
  out += conversation(d.messages, style);
  return out + comment_lines(d.comments, style) + history_lines(d.events, style);
}

std::string render_search(const std::vector<SearchHit>& hits, const TextStyle& style) {
  if (hits.empty()) return "no matches\n";
  std::string out;
  for (const auto& h : hits) {
    out += fmt::format("{}  {}  {}\n", colored(style, "\033[1m", fmt::format("{}#{}", style.tag, h.summary.id)),
                       colored(style, status_color(h.summary.status), h.summary.status), clip(h.summary.subject, 70));
    std::string snip = clip(h.snippet, 300);
    if (style.color) {
      std::string c;
      for (char ch : snip) c += ch == '[' ? std::string("\033[1;31m") : ch == ']' ? std::string("\033[0m") : std::string(1, ch);
      snip = c;
    }
    out += "    " + snip + "\n";
  }
  return out;
}

}  // namespace cased::cli
