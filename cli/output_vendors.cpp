// The Vendors section of `show`: each vendor attached to the case, when it
// was notified and last reached, its last reply or "no reply yet", its
// status as a whole and per CVE id, and the outreach log with each
// notification's outbox state and delivery. Times are UTC instants with
// their hour; every text an analyst or a sender wrote is made inert.
#include <fmt/format.h>

#include "core/text.hpp"
#include "core/util.hpp"
#include "output.hpp"

namespace cased::cli {
namespace {

nlohmann::json opt_time(const std::optional<std::int64_t>& t) {
  return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json(nullptr);
}

nlohmann::json opt_text(const std::optional<std::string>& s) { return s ? nlohmann::json(*s) : nlohmann::json(nullptr); }

std::string time_or(const std::optional<std::int64_t>& t, const char* none) {
  return t ? format_rfc3339(*t) : std::string(none);
}

std::string status_line(const VendorStatusView& st) {
  std::string out = fmt::format("    {:<15} {} (since {}, by {})\n", st.cve.empty() ? "Status:" : clip(st.cve, 24) + ":",
                                st.state, format_rfc3339(st.updated), clip(st.actor, 40));
  if (st.statement) out += "      Statement: " + display_safe(*st.statement, true) + "\n";
  return out;
}

// A notification's outbox row and delivery, or nothing for a manual attempt.
std::string outbox_note(const OutreachView& o) {
  std::string out;
  if (o.outbox) {
    out += fmt::format(" [outbox {}: {}", *o.outbox,
                       o.outbox_status ? std::string(to_string(*o.outbox_status)) : std::string("gone"));
    if (o.last_error) out += ": " + clip(*o.last_error, 200);
    out += "]";
  }
  if (o.delivery) out += fmt::format(" [{}{}]", clip(*o.delivery, 20), o.delivery_detail ? ": " + clip(*o.delivery_detail, 200) : "");
  return out;
}

}  // namespace

nlohmann::json to_json(const std::vector<CaseVendorView>& vendors) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& v : vendors) {
    nlohmann::json status = nlohmann::json::array(), outreach = nlohmann::json::array();
    for (const auto& st : v.status)
      status.push_back({{"cve", st.cve.empty() ? nlohmann::json(nullptr) : nlohmann::json(st.cve)},
                        {"state", st.state},
                        {"statement", opt_text(st.statement)},
                        {"updated", format_rfc3339(st.updated)},
                        {"actor", st.actor}});
    for (const auto& o : v.outreach) {
      nlohmann::json outbox = nullptr;
      if (o.outbox)
        outbox = {{"id", *o.outbox},
                  {"status", o.outbox_status ? nlohmann::json(to_string(*o.outbox_status)) : nlohmann::json(nullptr)},
                  {"last_error", opt_text(o.last_error)}};
      outreach.push_back({{"via", o.via},
                          {"at", format_rfc3339(o.at)},
                          {"actor", o.actor},
                          {"text", o.text},
                          {"outbox", outbox},
                          {"delivery", opt_text(o.delivery)},
                          {"delivery_detail", opt_text(o.delivery_detail)}});
    }
    arr.push_back({{"name", v.name},
                   {"notified", opt_time(v.notified)},
                   {"last_contact", opt_time(v.last_contact)},
                   {"last_reply", opt_time(v.last_reply)},
                   {"status", status},
                   {"outreach", outreach}});
  }
  return arr;
}

std::string render_vendors(const std::vector<CaseVendorView>& vendors, const TextStyle& style) {
  if (vendors.empty()) return {};
  std::string out = "\n" + (style.color ? std::string("\033[1mVendors\033[0m") : std::string("Vendors")) + "\n";
  for (const auto& v : vendors) {
    out += fmt::format("  {}\n", display_safe(v.name));
    out += fmt::format("    Notified:       {}\n", time_or(v.notified, "not notified"));
    out += fmt::format("    Last contact:   {}\n", time_or(v.last_contact, "none"));
    out += fmt::format("    Last reply:     {}\n", time_or(v.last_reply, "no reply yet"));
    for (const auto& st : v.status) out += status_line(st);
    for (const auto& o : v.outreach)
      out += fmt::format("    {} {:<5} {}: {}{}\n", format_rfc3339(o.at), o.via, clip(o.actor, 40),
                         clip(o.text, 2000), outbox_note(o));
  }
  return out;
}

}  // namespace cased::cli
