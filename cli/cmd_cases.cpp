// The commands that work on cases: init, ingest, list, show, assign,
// comment, status, set, search, stats, participant.
#include <ext/stdio_filebuf.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <optional>

#include "commands.hpp"
#include "cases/search_query.hpp"
#include "pager.hpp"
#include "core/text.hpp"
#include "core/util.hpp"
#include "mail/mbox.hpp"
#include "progress.hpp"

namespace cased::cli {
namespace {

void print_ingest(const Context& ctx, const IngestResult& r) {
  if (ctx.json) return print_json(to_json(r));
  std::string tag = fmt::format("[{}#{}]", ctx.tag(), r.case_id);
  if (r.duplicate) std::cout << fmt::format("already stored as message {} in {}\n", r.message, tag);
  else if (r.new_case) std::cout << fmt::format("stored as message {}, new case {}\n", r.message, tag);
  else std::cout << fmt::format("stored as message {} in {}\n", r.message, tag);
}

// What was just stored joins the search index now rather than at the next
// search. It is stored either way: a failure here is only a warning.
void index_for_search(Store& s, const std::vector<IndexText>& known = {}, bool durable = true) {
  if (auto indexed = s.index_pending(known, durable); !indexed)
    std::cerr << "casectl: not yet in the search index (the next search adds it): " << indexed.error().message << "\n";
}

// An empty input (or only blank lines) is no message: a usage error, and
// nothing is stored.
bool blank_input(std::string_view raw) { return raw.find_first_not_of(" \t\r\n") == std::string_view::npos; }

// How far into the mbox file reading is: a fraction of its size, from the
// file offset (a block ahead of the message read, as the stream buffers).
class MboxPosition {
 public:
  explicit MboxPosition(int fd) : fd_(fd) {
    struct stat st {};
    if (fd_ >= 0 && ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) size_ = st.st_size;
  }
  std::optional<double> fraction() const {
    if (size_ == 0) return std::nullopt;
    off_t at = ::lseek(fd_, 0, SEEK_CUR);
    if (at < 0) return std::nullopt;
    return static_cast<double>(at) / static_cast<double>(size_);
  }

 private:
  int fd_;
  off_t size_ = 0;
};

// A backfill of old mail, acknowledging nothing, in transactions of 500,
// checkpointed every 8,000 WAL pages rather than 1,000. Each batch joins the search index right after its commit, from the text
// in hand (not read back from the database), in a transaction that the next
// batch's durable commit syncs; the last batch's is synced itself.
int ingest_mbox(Context& ctx, const std::string& mbox) {
  Store s = ctx.store(false);
  s.wal_autocheckpoint(8000);  // 32 MB of WAL between checkpoints: 10 % faster than 1,000 pages
  auto crypto = ctx.crypto();
  std::optional<__gnu_cxx::stdio_filebuf<char>> mbox_file;
  if (mbox != "-") mbox_file.emplace(check(open_as_invoker(ctx.invoker, mbox)), std::ios::in | std::ios::binary);
  std::istream in(mbox_file ? &*mbox_file : std::cin.rdbuf());
  std::vector<PreparedMessage> batch;
  MboxSummary sum;
  Progress progress = Progress::on_terminal({"importing", "imported", "messages"});
  MboxPosition position(mbox_file ? mbox_file->fd() : -1);
  auto commit = [&](bool last) {
    auto results = check(s.ingest(batch));
    std::vector<IndexText> known;
    for (std::size_t i = 0; i < results.size(); ++i) {
      auto& r = results[i];
      if (!r) {
        ++sum.failed;
        std::cerr << "casectl: a message could not be stored: " << r.error().message << "\n";
        continue;
      }
      ++sum.stored;
      sum.new_cases += r->new_case;
      sum.duplicates += r->duplicate;
      ParsedMessage& pm = batch[i].parsed;
      if (!r->duplicate) known.push_back(IndexText{r->message, std::move(pm.subject), std::move(pm.body)});
    }
    batch.clear();
    index_for_search(s, known, /*durable=*/last);
  };
  std::uint64_t read = 0;
  sum.messages = read_mbox(in, [&](std::string&& one) {
    batch.push_back(prepare_message(std::move(one), Envelope{MessageSource::ingest, std::nullopt, {}}, crypto.get()));
    if (batch.size() >= 500) commit(false);
    if (progress.active()) progress.update(++read, position.fraction());
    return true;
  });
  commit(true);
  index_for_search(s);
  progress.finish(fmt::format(", {} duplicates", thousands(sum.duplicates)));
  if (ctx.json)
    print_json(to_json(sum));
  else
    std::cout << fmt::format("{} messages read: {} stored ({} duplicates), {} new cases, {} failed\n", sum.messages,
                             sum.stored, sum.duplicates, sum.new_cases, sum.failed);
  return sum.failed ? static_cast<int>(ExitCode::failure) : 0;
}

}  // namespace

int cmd_init(Context& ctx, const Args&) {
  Store s = ctx.store();
  SchemaView v{ctx.config.case_.database, check(s.schema_version())};
  if (ctx.json) print_json(to_json(v));
  else std::cout << fmt::format("database {} is at schema version {}\n", v.database, v.version);
  return 0;
}

int cmd_ingest(Context& ctx, const Args& a) {
  if (!a.ingest_mbox.empty()) return ingest_mbox(ctx, a.ingest_mbox);
  std::string raw = a.ingest_file.empty() || a.ingest_file == "-" ? read_stdin() : ctx.read_file(a.ingest_file);
  if (blank_input(raw)) fail(ExitCode::usage, "ingest: the input is empty; give one RFC 5322 message (nothing stored)");
  // One message is treated as LMTP would treat it.
  Store s = ctx.store(true);
  auto crypto = ctx.crypto();
  std::vector<PreparedMessage> batch;
  batch.push_back(prepare_message(std::move(raw), Envelope{MessageSource::ingest, std::nullopt, {}}, crypto.get()));
  auto results = check(s.ingest(batch));
  IngestResult r = check(std::move(results.at(0)));
  // Indexed from the text in hand, not read back from the database; the
  // raw message is let go first.
  std::vector<IndexText> known;
  if (!r.duplicate) {
    ParsedMessage& pm = batch[0].parsed;
    known.push_back(IndexText{r.message, std::move(pm.subject), std::move(pm.body)});
  }
  batch.clear();
  index_for_search(s, known);
  print_ingest(ctx, r);
  return 0;
}

namespace {

// The filter that `list` and `export` build from the same options.
CaseFilter case_filter(const Context& ctx, const Args& a) {
  CaseFilter filter;
  filter.statuses = a.list_status;
  if (filter.statuses.empty() && !a.list_all)
    for (const auto& state : case_states())
      if (state != "resolved" && state != "rejected") filter.statuses.push_back(state);
  if (!a.list_assignee.empty()) filter.assignee = a.list_assignee;
  if (a.mine) filter.assignee = ctx.actor;
  filter.unassigned = a.unassigned;
  filter.embargoed = a.embargoed;
  if (a.list_stale >= 0) filter.stale_days = a.list_stale;
  if (a.limit > 0) filter.limit = a.limit;
  if (a.sort == "created") filter.sort = CaseSort::created;
  else if (a.sort == "id") filter.sort = CaseSort::id;
  else if (a.sort == "embargo") filter.sort = CaseSort::embargo;
  filter.reverse = a.reverse;
  filter.tags = a.list_tags;
  return filter;
}

}  // namespace

int cmd_list(Context& ctx, const Args& a) {
  Store s = ctx.store();
  auto cases = check(s.list_cases(case_filter(ctx, a)));
  if (ctx.json) print_json(json_array(cases));
  else std::cout << render_list(cases, ctx.style);
  return 0;
}

int cmd_export(Context& ctx, const Args& a) {
  Store s = ctx.store();
  Progress progress = Progress::on_terminal({"exporting", "exported", "cases"});
  auto cases = check(s.list_cases(case_filter(ctx, a)));
  progress.total(cases.size());
  if (ctx.json || a.export_format == "json") print_json(json_array(cases));
  else std::cout << render_csv(cases, [&](std::size_t row) { progress.update(row); });
  std::cout.flush();
  progress.update(cases.size());
  progress.finish();
  return 0;
}

int cmd_show(Context& ctx, const Args& a) {
  Store s = ctx.store();
  CaseDetail d = check(s.get_case(parse_case_id(a.case_id, ctx.tag())));
  if (ctx.json) print_json(to_json(d));
  else page(render_case(d, ctx.style));
  return 0;
}

namespace {

// After a change: the case as `show --json` prints it, or the line `text`.
void print_changed(Context& ctx, Store& s, std::int64_t case_id, const std::string& text) {
  if (ctx.json) print_json(to_json(check(s.get_case(case_id))));
  else std::cout << text << "\n";
}

// Assigns to `user`, or unassigns with nullopt; only case.analysts when it is set.
int assign_to(Context& ctx, const std::string& id, const std::optional<std::string>& user) {
  const auto& analysts = ctx.config.case_.analysts;
  if (user && !analysts.empty() && std::find(analysts.begin(), analysts.end(), *user) == analysts.end())
    fail(ExitCode::failure, fmt::format("'{}' is not one of case.analysts", *user));
  Store s = ctx.store();
  auto case_id = parse_case_id(id, ctx.tag());
  check(s.assign(case_id, user, ctx.actor));
  std::string tag = fmt::format("[{}#{}]", ctx.tag(), case_id);
  print_changed(ctx, s, case_id, user ? fmt::format("{} assigned to {}", tag, *user) : tag + " unassigned");
  return 0;
}

}  // namespace

int cmd_assign(Context& ctx, const Args& a) {
  return assign_to(ctx, a.case_id, a.assign_none ? std::nullopt : std::optional<std::string>(a.arg2));
}

int cmd_take(Context& ctx, const Args& a) { return assign_to(ctx, a.case_id, ctx.actor); }

int cmd_comment(Context& ctx, const Args& a) {
  std::string body = message_text(ctx, a.text, a.file);
  Store s = ctx.store();
  auto case_id = parse_case_id(a.case_id, ctx.tag());
  check(s.add_comment(case_id, body, ctx.actor));
  print_changed(ctx, s, case_id, fmt::format("comment added to [{}#{}]", ctx.tag(), case_id));
  return 0;
}

int cmd_set(Context& ctx, const Args& a) {
  const DisclosureChange& change = a.disclosure;
  if (change.empty())
    fail(ExitCode::usage, "set: nothing to change (--embargo, --cve, --no-cve, --product, --versions, --cvss)");
  // A bad date, CVE id or vector is the caller's mistake: a usage error.
  if (auto valid = validate(change); !valid) fail(ExitCode::usage, valid.error().message);
  Store s = ctx.store();
  auto case_id = parse_case_id(a.case_id, ctx.tag());
  auto changes = check(s.set_disclosure(case_id, change, ctx.actor));
  auto detail = check(s.get_case(case_id));
  if (ctx.json) {
    print_json(to_json(detail.disclosure));
    return 0;
  }
  if (changes.empty()) std::cout << fmt::format("[{}#{}] unchanged\n", ctx.tag(), detail.summary.id);
  // A change names the old value too, which a version before validation may have stored raw.
  for (const auto& c : changes)
    std::cout << fmt::format("[{}#{}] {}\n", ctx.tag(), detail.summary.id, display_safe(c));
  return 0;
}

int cmd_search(Context& ctx, const Args& a) {
  if (auto q = parse_search_query(a.query); !q) fail(ExitCode::usage, q.error().message);
  Store s = ctx.store();
  auto hits = check(s.search(a.query, a.limit > 0 ? static_cast<std::size_t>(a.limit) : kSearchLimit));
  if (ctx.json) print_json(json_array(hits));
  else std::cout << render_search(hits, ctx.style);
  return 0;
}

namespace {

// A day of --since or --until: 00:00 UTC of it.
std::int64_t day(const std::string& option, const std::string& value) {
  auto t = parse_date(value);
  if (!t) fail(ExitCode::usage, fmt::format("stats: {} wants a date YYYY-MM-DD, not '{}'", option, value));
  return *t;
}

}  // namespace

int cmd_stats(Context& ctx, const Args& a) {
  constexpr std::int64_t kDay = 86400;
  std::int64_t until = a.until.empty() ? now_unix() : day("--until", a.until) + kDay;
  std::int64_t since = a.since.empty() ? until - 30 * kDay : day("--since", a.since);
  if (since >= until) fail(ExitCode::usage, "stats: --since must be before --until");
  Store s = ctx.store();
  CaseStats stats = check(s.case_stats(since, until));
  if (ctx.json) print_json(to_json(stats));
  else std::cout << render_stats(stats);
  return 0;
}

int cmd_participant(Context& ctx, const Args& a) {
  std::string addr = analyst_address(a.arg2);
  Store s = ctx.store();
  auto case_id = parse_case_id(a.case_id, ctx.tag());
  check(s.add_participant(case_id, addr, a.role, ctx.actor));
  std::int64_t shown = check(s.find_case(case_id)).value_or(case_id);
  print_changed(ctx, s, shown, fmt::format("{} is a verified {} of [{}#{}]", addr, a.role, ctx.tag(), shown));
  return 0;
}

}  // namespace cased::cli
