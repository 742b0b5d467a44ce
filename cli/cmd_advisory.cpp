// casectl advisory ID init|show|edit|set|export: the draft of a case's
// advisory and its documents. Only what an analyst set goes into one: the
// draft starts empty (no subject or text of the reporter's mail), the CVE
// ids, CVSS vector, product and versions are the case's fields.
#include "cmd_advisory.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "core/text.hpp"
#include "core/util.hpp"
#include "draft.hpp"

namespace cased::cli {
namespace {

const std::map<std::string, AdvisoryField>& fields() {
  static const std::map<std::string, AdvisoryField> f = {
      {"title", AdvisoryField::title},     {"summary", AdvisoryField::summary},
      {"details", AdvisoryField::details}, {"remediation", AdvisoryField::remediation},
      {"credit", AdvisoryField::credit},   {"fixed", AdvisoryField::fixed}};
  return f;
}

// A field's text as an analyst typed it: UTF-8, bounded, no control
// characters (line breaks and tabs in the long texts) and no bidi override or
// isolate, which would reorder the published text; the one-line fields (the
// title is the announcement's Subject) hold no invisible format character
// either (core/text.hpp disguising_character).
std::string checked_text(const std::string& field, const std::string& value) {
  bool one_line = field == "title" || field == "credit" || field == "fixed" || field == "reference";
  std::size_t max = field == "title" ? 200 : one_line ? 1000 : 20000;
  if (!is_valid_utf8(value)) fail(ExitCode::usage, fmt::format("{}: not UTF-8 text", field));
  if (value.size() > max) fail(ExitCode::usage, fmt::format("{}: longer than {} bytes", field, max));
  if (auto bad = disguising_character(value, !one_line))
    fail(ExitCode::usage, fmt::format("{}: holds {}", field, *bad));
  if (field == "title" && trim(value).empty())
    fail(ExitCode::usage, "title: an advisory needs a title (it cannot be empty)");
  return value;
}

void check_field_value(const std::string& field, const std::string& value) {
  if (field == "fixed" && !value.empty()) {
    auto v = advisory::parse_versions(value, "fixed");
    if (!v) fail(ExitCode::usage, v.error().message);
  }
  if (field == "reference" && !advisory::reference_url(value))
    fail(ExitCode::usage, fmt::format("reference: '{}' is not an http(s) URL (printable ASCII, a host, no space)",
                                      display_safe(clip(value, 80))));
}

int advisory_set(Context& ctx, const AdvisoryArgs& aa, std::int64_t case_id) {
  if (aa.words.size() != 2)
    fail(ExitCode::usage, "usage: casectl advisory ID set FIELD VALUE (title, summary, details, remediation, credit, "
                          "reference, fixed)");
  const std::string &field = aa.words[0], &value = checked_text(aa.words[0], aa.words[1]);
  check_field_value(field, value);
  Store s = ctx.store();
  if (field == "reference") {
    check(s.add_advisory_reference(case_id, value, ctx.actor));
  } else {
    auto it = fields().find(field);
    if (it == fields().end())
      fail(ExitCode::usage, fmt::format("unknown advisory field '{}' (title, summary, details, remediation, credit, "
                                        "reference, fixed)", display_safe(clip(field, 40))));
    bool clears = value.empty() && (field == "credit" || field == "fixed");
    check(s.set_advisory_field(case_id, it->second, clears ? std::nullopt : std::optional(value), ctx.actor));
  }
  std::cout << fmt::format("[{}#{}] advisory {} {}\n", ctx.tag(), case_id, field, value.empty() ? "cleared" : "set");
  return 0;
}

nlohmann::json to_json(const AdvisoryRecord& r) {
  auto opt = [](const std::optional<std::string>& s) { return s ? nlohmann::json(*s) : nlohmann::json(nullptr); };
  auto when = [](const std::optional<std::int64_t>& t) {
    return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json(nullptr);
  };
  nlohmann::json revisions = nlohmann::json::array();
  for (const auto& v : r.revisions)
    revisions.push_back({{"number", v.number}, {"date", format_rfc3339(v.date)}, {"summary", v.summary},
                         {"actor", v.actor}});
  return {{"case", r.case_id},        {"tracking_id", r.tracking_id},  {"status", r.published ? "published" : "draft"},
          {"version", r.version},     {"title", r.title},              {"summary", r.summary},
          {"details", r.details},     {"remediation", r.remediation}, {"credit", opt(r.credit)},
          {"references", r.references}, {"fixed", opt(r.fixed)},      {"initial_release", when(r.initial_release)},
          {"current_release", when(r.current_release)}, {"revisions", revisions}};
}

void show_text(const Context& ctx, const AdvisoryRecord& r) {
  auto line = [](const char* name, const std::string& v) {
    std::cout << fmt::format("{:<13}{}\n", name, display_safe(v.empty() ? "-" : v));
  };
  std::cout << fmt::format("[{}#{}] advisory {}\n", ctx.tag(), r.case_id, r.tracking_id);
  line("status:", r.published ? fmt::format("published, version {}", r.version) : "draft (never published)");
  line("title:", r.title);
  line("credit:", r.credit.value_or(""));
  line("fixed:", r.fixed.value_or(""));
  for (const auto& ref : r.references) line("reference:", ref);
  for (const auto& [name, text] : {std::pair{"summary", &r.summary}, {"details", &r.details},
                                   {"remediation", &r.remediation}})
    std::cout << fmt::format("{}:\n{}\n", name, text->empty() ? "  -" : display_safe(*text, true));
  for (const auto& v : r.revisions)
    std::cout << fmt::format("revision {}: {} {} ({})\n", v.number, format_rfc3339(v.date), display_safe(v.summary),
                             display_safe(v.actor));
}

int advisory_export(Context& ctx, const AdvisoryArgs& aa, std::int64_t case_id) {
  Store s = ctx.store();
  AdvisorySource src = advisory_source(ctx, s, case_id, false);
  advisory::Checked c = checked(src.input);
  if (c.cvss_v4) std::cerr << "casectl: warning: CSAF 2.0 and CVE exports carry no CVSS 4.0 score (the text does)\n";
  if (aa.format == "text") {
    std::cout << advisory::text(src.input, c);
    return 0;
  }
  if (aa.format == "csaf") {
    std::cout << serialize(advisory::csaf(src.input, c));
    return 0;
  }
  std::string cve = aa.cve;
  if (cve.empty() && src.input.cves.size() == 1) cve = src.input.cves.front();
  if (cve.empty())
    fail(ExitCode::usage, src.input.cves.empty() ? "the case has no CVE id (casectl set ID --cve CVE-...)"
                                                 : "the case has several CVE ids: name one with --cve");
  auto record = advisory::cve_record(src.input, c, cve);
  if (!record) fail(ExitCode::usage, record.error().message);
  std::cout << serialize(*record);
  return 0;
}

// The draft as the editor shows it: one [field] heading per field.
std::string edit_template(const AdvisoryRecord& r) {
  std::string out = "# Lines starting with # are ignored. Keep the [field] headings; empty credit or fixed clears it.\n";
  for (const auto& [name, value] : {std::pair{"title", r.title}, {"summary", r.summary}, {"details", r.details},
                                    {"remediation", r.remediation}, {"credit", r.credit.value_or("")},
                                    {"fixed", r.fixed.value_or("")}})
    out += fmt::format("[{}]\n{}\n", name, value);
  return out;
}

// The text's lines, each without its LF or CRLF.
std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = std::min(text.find('\n', start), text.size());
    std::string_view line = text.substr(start, end - start);
    if (end < text.size() && line.ends_with('\r')) line.remove_suffix(1);
    lines.emplace_back(line);
    start = end + 1;
  }
  return lines;
}

// The edited template: each field's lines under its [field] heading, trimmed;
// # lines dropped; a field whose heading was deleted is left out (unchanged).
std::map<std::string, std::string> parse_edited(std::string_view edited) {
  std::map<std::string, std::string> values;
  std::string current;
  for (const auto& line : split_lines(edited)) {
    if (line.starts_with("#")) continue;
    bool heading = line.size() > 2 && line.front() == '[' && line.back() == ']';
    std::string name = heading ? line.substr(1, line.size() - 2) : "";
    if (fields().count(name)) {
      current = name;
      values[current];
    } else if (!current.empty()) {
      values[current] += (values[current].empty() ? "" : "\n") + line;
    }
  }
  for (auto& [name, value] : values) value = trim(value);
  return values;
}

int advisory_edit(Context& ctx, std::int64_t case_id) {
  if (!on_terminal()) fail(ExitCode::usage, "advisory edit needs a terminal (use advisory ID set FIELD VALUE)");
  Store s = ctx.store();
  AdvisoryRecord r = check(s.get_advisory(case_id));
  auto values = parse_edited(edit_draft(edit_template(r)));
  for (const auto& [name, value] : values) {  // every field checked before any is saved
    checked_text(name, value);
    check_field_value(name, value);
  }
  // Only what changed, all in one transaction: a failure saves nothing.
  const std::map<std::string, std::string> before = {
      {"title", r.title},       {"summary", r.summary},           {"details", r.details},
      {"remediation", r.remediation}, {"credit", r.credit.value_or("")}, {"fixed", r.fixed.value_or("")}};
  std::vector<AdvisoryFieldValue> changes;
  for (const auto& [name, value] : values) {
    if (before.at(name) == value) continue;
    bool clears = value.empty() && (name == "credit" || name == "fixed");
    changes.push_back({fields().at(name), clears ? std::nullopt : std::optional(value)});
  }
  if (!changes.empty()) check(s.set_advisory_fields(case_id, changes, ctx.actor));
  std::cout << fmt::format("[{}#{}] advisory {} {}\n", ctx.tag(), case_id, r.tracking_id,
                           changes.empty() ? "unchanged" : "saved");
  return 0;
}

}  // namespace

std::string serialize(const nlohmann::json& j) {
  try {
    return j.dump(2) + "\n";
  } catch (const nlohmann::json::exception&) {
    fail(ExitCode::usage, "a field of the advisory is not valid UTF-8");
  }
}

advisory::Checked checked(const advisory::Input& in) {
  auto c = advisory::check(in);
  if (!c) fail(ExitCode::usage, c.error().message);
  return std::move(*c);
}

AdvisorySource advisory_source(Context& ctx, Store& s, std::int64_t case_id, bool next_version) {
  AdvisorySource src{check(s.get_advisory(case_id)), check(s.get_case(case_id)), {}};
  const auto& cfg = ctx.config.advisory;
  auto& in = src.input;
  in.publisher = {cfg.publisher, cfg.namespace_, cfg.base_url, cfg.category, cfg.contact, cfg.vendor, cfg.cve_org_id};
  const AdvisoryRecord& r = src.record;
  in.tracking_id = r.tracking_id;
  in.now = now_unix();
  in.version = r.version + (next_version ? 1 : 0);
  in.initial_release = r.initial_release.value_or(in.now);
  in.current_release = next_version ? in.now : r.current_release.value_or(in.now);
  for (const auto& v : r.revisions) in.revisions.push_back({v.number, v.date, v.summary});
  in.title = r.title, in.summary = r.summary, in.details = r.details, in.remediation = r.remediation;
  in.credit = r.credit, in.fixed = r.fixed, in.references = r.references;
  const Disclosure& d = src.detail.disclosure;
  in.cves = d.cves, in.product = d.product, in.versions = d.versions;
  if (r.case_cvss && !r.case_cvss->empty()) in.cvss = r.case_cvss;
  for (const auto& v : check(s.vendor_statuses(case_id))) in.vendors.push_back({v.vendor, v.cve, v.state, v.statement});
  in.generator = CASED_VERSION;
  return src;
}

void advisory_options(CLI::App& c, Args& a) {
  c.add_option("ID", a.case_id, "case id")->required();
  c.add_option("ACTION", a.advisory.action, "init | show | edit | set | export | publish")
      ->required()
      ->check(CLI::IsMember({"init", "show", "edit", "set", "export", "publish"}));
  c.add_option("WORDS", a.advisory.words, "set: FIELD VALUE");
  c.add_option("--format", a.advisory.format, "export: csaf (default) | cve | text")
      ->check(CLI::IsMember({"csaf", "cve", "text"}));
  c.add_option("--cve", a.advisory.cve, "export --format cve: the CVE id (when the case has several)");
  c.add_option("--dir", a.advisory.dir, "publish: the CSAF provider directory");
  c.add_option("--announce", a.advisory.announce, "publish: mail the clear-signed text to this list address");
  c.add_flag("--force", a.advisory.force, "publish before the embargo (needs --reason)");
  c.add_option("--reason", a.advisory.reason, "publish --force: why, recorded in the case");
}

int cmd_advisory(Context& ctx, const Args& a) {
  const AdvisoryArgs& aa = a.advisory;
  std::int64_t case_id = parse_case_id(a.case_id, ctx.tag());
  if (aa.action != "set" && !aa.words.empty())
    fail(ExitCode::usage, fmt::format("advisory {}: unexpected '{}'", aa.action, display_safe(clip(aa.words[0], 40))));
  if (aa.action == "init") {
    Store s = ctx.store();
    auto r = check(s.advisory_init(case_id, ctx.config.advisory.id_prefix, ctx.actor));
    std::cout << fmt::format("[{}#{}] advisory {} drafted: set its title and text (casectl advisory {} set title "
                             "TEXT)\n", ctx.tag(), r.case_id, r.tracking_id, r.case_id);
    return 0;
  }
  if (aa.action == "show") {
    Store s = ctx.store();
    auto r = check(s.get_advisory(case_id));
    if (ctx.json) print_json(to_json(r));
    else show_text(ctx, r);
    return 0;
  }
  if (aa.action == "set") return advisory_set(ctx, aa, case_id);
  if (aa.action == "edit") return advisory_edit(ctx, case_id);
  if (aa.action == "export") return advisory_export(ctx, aa, case_id);
  return advisory_publish(ctx, a, case_id);
}

}  // namespace cased::cli
