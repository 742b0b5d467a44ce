// casectl notify, vendor-status and outreach: coordinating a case with the
// vendors of the contact book. Every vendor and every input is checked
// before anything is queued or written; notify queues all its mails in one
// transaction.
#include "cmd_notify.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "cases/disclosure.hpp"
#include "commands.hpp"
#include "core/text.hpp"
#include "core/util.hpp"
#include "cvd/vendor_securitytxt.hpp"
#include "reply.hpp"
#include "stored_message.hpp"

namespace cased::cli {
namespace {

constexpr std::size_t kMaxAnalystText = 64 << 10;  // a statement or an outreach note
constexpr std::size_t kListEach = 20;              // more vendors than this: a count, and the failures

std::string checked_vendor_name(const std::string& name) {
  if (!valid_vendor_name(name))
    fail(ExitCode::usage, fmt::format("bad vendor name '{}': a short lower-case word ([a-z0-9][a-z0-9._-]*, at most "
                                      "{} characters)",
                                      display_safe(clip(name, 80)), kMaxVendorName));
  return name;
}

std::string analyst_text(const std::string& option, const std::string& text) {
  if (!is_valid_utf8(text) || text.size() > kMaxAnalystText)
    fail(ExitCode::usage, fmt::format("{} must be UTF-8 text of at most {} bytes", option, kMaxAnalystText));
  return text;
}

// Every named vendor from the book, each once, in the order named; the
// unknown ones all named in one refusal.
std::vector<Vendor> book_vendors(Store& s, const std::vector<std::string>& names) {
  std::vector<Vendor> out;
  std::vector<std::string> unknown;
  for (const auto& name : names) {
    checked_vendor_name(name);
    if (std::any_of(out.begin(), out.end(), [&](const Vendor& v) { return v.name == name; })) continue;
    auto v = s.get_vendor(name);
    if (v) out.push_back(std::move(*v));
    else if (v.error().code == Errc::not_found) unknown.push_back(name);
    else check(std::move(v));
  }
  if (!unknown.empty())
    fail(ExitCode::not_found, fmt::format("unknown vendor(s): {} (casectl vendor list; casectl vendor add NAME "
                                          "--contact ADDR --key FILE|FPR); nothing was queued",
                                          fmt::join(unknown, ", ")));
  return out;
}

// The text, with each --include message's text (decrypted again from the
// stored message) after it, inside the encryption.
std::string notification_text(Context& ctx, Store& s, std::int64_t case_id, const Args& a) {
  std::string text = message_text(ctx, a.text, a.file);
  std::unique_ptr<Crypto> crypto;
  for (const auto& m : a.coord.includes) {
    std::int64_t id = parse_case_id(m, "");
    ParsedMessage pm = read_stored_message(ctx, s, case_id, id, true, crypto);
    if (!text.empty() && text.back() != '\n') text += "\n";
    text += fmt::format("\n-------- message {} of the case, forwarded --------\n{}", id, pm.body);
  }
  return text;
}

// Sends the queued notifications now when [smtp] is configured; the daemon
// sends what stays queued.
std::vector<SendAttempt> send_now(Context& ctx, Outbox& outbox, const std::vector<Queued>& queued) {
  std::vector<SendAttempt> out;
  if (!ctx.config.smtp) return out;
  for (const auto& q : queued) {
    auto attempts = outbox.send_due(ctx.config.smtp, q.outbox_id);
    out.push_back(attempts.empty() ? SendAttempt{q.outbox_id, SendStatus::queued, ""} : attempts.front());
  }
  return out;
}

std::string state_of(const std::vector<SendAttempt>& sent, std::size_t i) {
  if (i >= sent.size()) return "queued";
  const auto& a = sent[i];
  return std::string(to_string(a.status)) + (a.error.empty() ? "" : ": " + clip(a.error, 200));
}

// One line per vendor (for a few), or a count and the failures.
int report(Context& ctx, const std::vector<Vendor>& vendors, const std::vector<Queued>& queued,
           const std::vector<SendAttempt>& sent) {
  std::ostream& out = ctx.json ? std::cerr : std::cout;
  std::size_t n_sent = 0, n_failed = 0;
  for (const auto& a : sent) {
    n_sent += a.status == SendStatus::sent;
    n_failed += a.status == SendStatus::failed;
  }
  for (std::size_t i = 0; i < queued.size(); ++i) {
    bool failed = i < sent.size() && sent[i].status == SendStatus::failed;
    if (queued.size() > kListEach && !failed) continue;
    out << fmt::format("  {}: outbox {} to {} ({}) {}\n", vendors[i].name, queued[i].outbox_id, addresses(queued[i].to),
                       queued[i].encrypted ? "signed, encrypted" : "signed only", state_of(sent, i));
  }
  std::string how = ctx.config.smtp ? fmt::format("{} sent, {} queued, {} failed", n_sent,
                                                  queued.size() - n_sent - n_failed, n_failed)
                                    : "queued; not sent: the configuration has no [smtp] section";
  out << fmt::format("notified {} vendor(s) of [{}#{}]: {}\n", queued.size(), ctx.tag(),
                     queued.empty() ? 0 : queued.front().case_id, how);
  return n_failed ? static_cast<int>(ExitCode::failure) : 0;
}

void print_case(Context& ctx, Store& s, std::int64_t case_id, const std::string& text) {
  if (ctx.json) print_json(to_json(check(s.get_case(case_id))));
  else std::cout << text << "\n";
}

}  // namespace

void notify_options(CLI::App& c, Args& a) {
  c.add_option("ID", a.case_id, "case id")->required();
  c.add_option("NAME", a.coord.vendors, "vendor of the book (one or more)")->required();
  c.add_option("-m", a.text, "the text");
  c.add_option("-F", a.file, "read the text from FILE (- for stdin)");
  c.add_option("--include", a.coord.includes, "forward message MSG's text inside the encryption (repeatable)");
  c.add_option("--attach", a.reply_attach, "send this file inside the encryption (repeatable; 10 MiB in all)");
  c.add_flag("--sign-only", a.sign_only, "send signed but unencrypted to a vendor without a key");
}

void vendor_status_options(CLI::App& c, Args& a) {
  c.add_option("ID", a.case_id, "case id")->required();
  c.add_option("NAME", a.coord.vendor, "vendor attached to the case")->required();
  c.add_option("STATE", a.coord.state, "unknown | investigating | affected | not-affected | fixed | unresponsive")
      ->required();
  c.add_option("--cve", a.coord.cve, "the state for this CVE id only (CVE-YYYY-NNNN)");
  auto* st = c.add_option("--statement", a.coord.statement, "the vendor's public statement");
  c.callback([&a, st] { a.coord.statement_given = st->count() > 0; });
}

void outreach_options(CLI::App& c, Args& a) {
  c.add_option("ID", a.case_id, "case id")->required();
  c.add_option("NAME", a.coord.vendor, "vendor of the book")->required();
  c.add_option("--via", a.coord.via, "mail | phone | post | form | other")->required();
  c.add_option("-m", a.text, "what was done and what came of it");
  c.add_option("-F", a.file, "read the text from FILE (- for stdin)");
}

int cmd_notify(Context& ctx, const Args& a) {
  std::int64_t case_id = parse_case_id(a.case_id, ctx.tag());
  NotifyRequest req{case_id, {}, read_attachments(ctx, a.reply_attach), a.sign_only, ctx.actor};
  Store s = ctx.store();
  std::vector<Vendor> vendors = book_vendors(s, a.coord.vendors);
  auto crypto = ctx.required_crypto();
  Outbox outbox(s, *crypto, outbox_options(ctx.config));
  // Refused before anything is decrypted again (queue_notifications checks it all anyway).
  if (!a.coord.includes.empty()) check(outbox.check_notifications(req, vendors));
  req.text = notification_text(ctx, s, case_id, a);
  std::vector<Queued> queued = check(outbox.queue_notifications(req, vendors));
  std::vector<SendAttempt> sent = send_now(ctx, outbox, queued);
  int status = report(ctx, vendors, queued, sent);
  if (ctx.json) {
    nlohmann::json j = to_json(check(s.get_case(queued.front().case_id)));
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t i = 0; i < queued.size(); ++i)
      list.push_back({{"vendor", vendors[i].name},
                      {"outbox", queued[i].outbox_id},
                      {"recipients", queued[i].to},
                      {"encrypted", queued[i].encrypted},
                      {"status", i < sent.size() ? to_string(sent[i].status) : "queued"}});
    j["notifications"] = list;
    print_json(j);
  }
  return status;
}

int cmd_vendor_status(Context& ctx, const Args& a) {
  std::int64_t case_id = parse_case_id(a.case_id, ctx.tag());
  VendorStatusChange change{checked_vendor_name(a.coord.vendor), a.coord.cve, a.coord.state, std::nullopt};
  const auto& states = vendor_states();
  if (std::find(states.begin(), states.end(), change.state) == states.end())
    fail(ExitCode::usage, fmt::format("bad state '{}': one of {}", display_safe(clip(change.state, 40)),
                                      fmt::join(states, ", ")));
  if (!change.cve.empty() && !valid_cve_id(change.cve))
    fail(ExitCode::usage, fmt::format("bad CVE id '{}': CVE-YYYY-NNNN (a four-digit year, four or more digits)",
                                      display_safe(clip(change.cve, 40))));
  if (a.coord.statement_given) change.statement = analyst_text("--statement", a.coord.statement);
  Store s = ctx.store();
  check(s.set_vendor_status(case_id, change, ctx.actor));
  print_case(ctx, s, case_id,
             fmt::format("[{}#{}] {}: {}{}", ctx.tag(), case_id, change.vendor, change.state,
                         change.cve.empty() ? "" : " for " + change.cve));
  return 0;
}

int cmd_outreach(Context& ctx, const Args& a) {
  std::int64_t case_id = parse_case_id(a.case_id, ctx.tag());
  const auto& ways = outreach_ways();
  if (std::find(ways.begin(), ways.end(), a.coord.via) == ways.end())
    fail(ExitCode::usage, fmt::format("bad --via '{}': one of {}", display_safe(clip(a.coord.via, 40)), fmt::join(ways, ", ")));
  OutreachEntry entry{checked_vendor_name(a.coord.vendor), a.coord.via,
                      analyst_text("the text", message_text(ctx, a.text, a.file))};
  Store s = ctx.store();
  check(s.add_outreach(case_id, entry, ctx.actor));
  print_case(ctx, s, case_id,
             fmt::format("[{}#{}] {}: attempt by {} recorded", ctx.tag(), case_id, entry.vendor, entry.via));
  return 0;
}

}  // namespace cased::cli
