#include "imap_client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "net/net.hpp"

namespace cased::imap {
namespace {

// Time for one command's reply; a body gets more, by its size.
constexpr int kCommandSeconds = 120;
// Lines outside literals: responses to the commands used here are short.
constexpr std::size_t kMaxLine = 64 * 1024;
// Per message in a UID FETCH listing (UID, size, a few flags).
// "* 99999 FETCH (UID 99999 FLAGS (\Seen $CasedStored))" is 55 bytes.
constexpr std::size_t kListBytesPerMessage = 96;
// The listing goes in chunks of this many messages, each with its own
// budget, so that libetpan holds one chunk's worth of parsed responses.
constexpr std::uint32_t kListChunk = 5000;

struct SetFree {
  void operator()(mailimap_set* s) const { mailimap_set_free(s); }
};
using Set = std::unique_ptr<mailimap_set, SetFree>;

struct FetchListFree {
  void operator()(clist* l) const { mailimap_fetch_list_free(l); }
};
using FetchList = std::unique_ptr<clist, FetchListFree>;

struct FetchTypeFree {
  void operator()(mailimap_fetch_type* t) const { mailimap_fetch_type_free(t); }
};
using FetchType = std::unique_ptr<mailimap_fetch_type, FetchTypeFree>;

// UID FETCH, owning the result only when libetpan hands it over: on an error
// reply (NO, BAD) libetpan 1.9.4 has already freed the list it leaves in
// `result`, and freeing it again was a double free.
int uid_fetch(mailimap* s, mailimap_set* set, mailimap_fetch_type* type, FetchList& out) {
  clist* result = nullptr;
  int rc = mailimap_uid_fetch(s, set, type, &result);
  out.reset(rc == MAILIMAP_NO_ERROR ? result : nullptr);
  return rc;
}

// FETCH by sequence numbers, owning the result the same way.
int seq_fetch(mailimap* s, mailimap_set* set, mailimap_fetch_type* type, FetchList& out) {
  clist* result = nullptr;
  int rc = mailimap_fetch(s, set, type, &result);
  out.reset(rc == MAILIMAP_NO_ERROR ? result : nullptr);
  return rc;
}

// A NO or BAD to a UID FETCH (libetpan says UID_FETCH; FETCH in older versions).
bool refused(int rc) { return rc == MAILIMAP_ERROR_UID_FETCH || rc == MAILIMAP_ERROR_FETCH; }

void arm_for(mailimap* s, std::size_t max_reply, int seconds) {
  if (s && s->imap_stream) net::arm(s->imap_stream, max_reply, std::chrono::seconds(seconds));
}

bool has_keyword(mailimap_msg_att_dynamic* dyn, const char* keyword) {
  if (!dyn || !dyn->att_list) return false;
  for (clistiter* it = clist_begin(dyn->att_list); it; it = clist_next(it)) {
    auto* f = static_cast<mailimap_flag_fetch*>(clist_content(it));
    if (f && f->fl_flag && f->fl_flag->fl_type == MAILIMAP_FLAG_KEYWORD && f->fl_flag->fl_data.fl_keyword &&
        strcasecmp(f->fl_flag->fl_data.fl_keyword, keyword) == 0)
      return true;
  }
  return false;
}

Entry entry_of(mailimap_msg_att* msg) {
  Entry e;
  for (clistiter* a = clist_begin(msg->att_list); a; a = clist_next(a)) {
    auto* item = static_cast<mailimap_msg_att_item*>(clist_content(a));
    if (item->att_type == MAILIMAP_MSG_ATT_ITEM_DYNAMIC) {
      e.stored = e.stored || has_keyword(item->att_data.att_dyn, kStoredKeyword);
      e.too_large = e.too_large || has_keyword(item->att_data.att_dyn, kTooLargeKeyword);
    } else if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC) {
      auto* st = item->att_data.att_static;
      if (st->att_type == MAILIMAP_MSG_ATT_UID) e.uid = st->att_data.att_uid;
      if (st->att_type == MAILIMAP_MSG_ATT_RFC822_SIZE) e.size = st->att_data.att_rfc822_size;
    }
  }
  return e;
}

}  // namespace

std::string server_said(mailimap* s) {
  return s && s->imap_response ? net::server_text(s->imap_response) : std::string();
}

void check(int rc, const char* what, mailimap* s) {
  if (rc == MAILIMAP_NO_ERROR) return;
  std::string why = s && s->imap_stream ? net::failure(s->imap_stream) : std::string();
  std::string server = why.empty() ? server_said(s) : why;
  throw Failure(fmt::format("{} failed (libetpan error {}){}{}", what, rc, server.empty() ? "" : ": ", server));
}

void arm(mailimap* s, std::size_t max_reply) { arm_for(s, max_reply, kCommandSeconds); }

Session connect(const ImapConfig& c, int cancel_fd) {
  Session s(mailimap_new(0, nullptr));
  if (!s) throw std::bad_alloc();
  net::Limits limits{kMaxLine, 1u << 20, std::chrono::seconds(kCommandSeconds), cancel_fd};
  auto stream = net::open(c.host, c.port, c.security, c.ca_file, kCommandSeconds, net::Protocol::imap, limits);
  if (!stream) throw Failure(stream.error().message);
  int rc = mailimap_connect(s.get(), *stream);
  if (rc != MAILIMAP_NO_ERROR_AUTHENTICATED && rc != MAILIMAP_NO_ERROR_NON_AUTHENTICATED)
    check(rc, "IMAP greeting", s.get());
  if (c.security == TransportSecurity::starttls) {
    arm(s.get());
    check(mailimap_starttls(s.get()), "STARTTLS", s.get());
    // Everything from here on goes through the verified TLS layer.
    if (auto up = net::starttls(s->imap_stream, c.host, c.ca_file, kCommandSeconds); !up)
      throw Failure(up.error().message);
    arm(s.get());
    mailimap_capability_data* caps = nullptr;
    check(mailimap_capability(s.get(), &caps), "CAPABILITY", s.get());
    mailimap_capability_data_free(caps);
  }
  auto password = net::read_password_file("imap.password_file", c.password_file);
  if (!password) throw Failure(password.error().message);
  arm(s.get());
  check(mailimap_login(s.get(), c.user.c_str(), password->c_str()), "LOGIN", s.get());
  return s;
}

std::vector<Entry> list(mailimap* s, std::uint32_t exists) {
  FetchType type(mailimap_fetch_type_new_fetch_att_list_empty());
  mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_uid());
  mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_flags());
  std::uint32_t n = std::min(exists, kMaxListed);
  std::vector<Entry> out;
  for (std::uint32_t lo = 1; lo <= n; lo += kListChunk) {
    // The last chunk ends at "*", so that a message that arrived since
    // SELECT is seen; the others end where the count said.
    bool last = n - lo < kListChunk;
    Set set(mailimap_set_new_interval(lo, last && n == exists ? 0 : std::min(n, lo + kListChunk - 1)));
    arm(s, (1u << 20) + static_cast<std::size_t>(kListChunk) * kListBytesPerMessage);
    FetchList result;
    check(seq_fetch(s, set.get(), type.get(), result), "FETCH (UID FLAGS)", s);
    for (clistiter* it = clist_begin(result.get()); it; it = clist_next(it)) {
      Entry e = entry_of(static_cast<mailimap_msg_att*>(clist_content(it)));
      if (e.uid != 0) out.push_back(e);
    }
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.uid < b.uid; });
  out.erase(std::unique(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.uid == b.uid; }),
            out.end());
  return out;
}

std::optional<std::uint32_t> fetch_size(mailimap* s, std::uint32_t uid) {
  Set set(mailimap_set_new_single(uid));
  FetchType type(mailimap_fetch_type_new_fetch_att_list_empty());
  mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_uid());
  mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_rfc822_size());
  arm(s);
  FetchList result;
  int rc = uid_fetch(s, set.get(), type.get(), result);
  if (refused(rc)) return std::nullopt;
  check(rc, "UID FETCH RFC822.SIZE", s);
  for (clistiter* it = clist_begin(result.get()); it; it = clist_next(it)) {
    Entry e = entry_of(static_cast<mailimap_msg_att*>(clist_content(it)));
    if (e.uid == uid) return e.size;
  }
  return std::nullopt;
}

std::optional<std::string> fetch_body(mailimap* s, std::uint32_t uid, std::uint32_t size) {
  Set set(mailimap_set_new_single(uid));
  FetchType type(mailimap_fetch_type_new_fetch_att_list_empty());
  mailimap_section* section = mailimap_section_new(nullptr);
  mailimap_fetch_type_new_fetch_att_list_add(type.get(), mailimap_fetch_att_new_body_peek_section(section));
  // The literal may not exceed the size the server announced.
  arm_for(s, static_cast<std::size_t>(size) + 64 * 1024, kCommandSeconds + static_cast<int>(size / 65536));
  FetchList result;
  int rc = uid_fetch(s, set.get(), type.get(), result);
  // The server refused this one message (NO: unreadable, broken on its side).
  // That is no reason to stop: the caller leaves it and goes on.
  if (refused(rc)) return std::nullopt;
  check(rc, "UID FETCH BODY.PEEK[]", s);
  for (clistiter* it = clist_begin(result.get()); it; it = clist_next(it)) {
    auto* msg = static_cast<mailimap_msg_att*>(clist_content(it));
    for (clistiter* a = clist_begin(msg->att_list); a; a = clist_next(a)) {
      auto* item = static_cast<mailimap_msg_att_item*>(clist_content(a));
      if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC &&
          item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_BODY_SECTION) {
        auto* body = item->att_data.att_static->att_data.att_body_section;
        return std::string(body->sec_body_part ? body->sec_body_part : "", body->sec_length);
      }
    }
  }
  return std::nullopt;
}

void add_flags(mailimap* s, std::uint32_t uid, bool seen, bool flagged, const char* keyword) {
  Set set(mailimap_set_new_single(uid));
  mailimap_flag_list* flags = mailimap_flag_list_new_empty();
  if (seen) mailimap_flag_list_add(flags, mailimap_flag_new_seen());
  if (flagged) mailimap_flag_list_add(flags, mailimap_flag_new_flagged());
  if (keyword) mailimap_flag_list_add(flags, mailimap_flag_new_flag_keyword(strdup(keyword)));
  mailimap_store_att_flags* att = mailimap_store_att_flags_new_add_flags_silent(flags);
  arm(s);
  int rc = mailimap_uid_store(s, set.get(), att);
  mailimap_store_att_flags_free(att);
  check(rc, "UID STORE +FLAGS", s);
}

void finish(mailimap* s, std::uint32_t uid, const std::string& done, bool has_move, bool has_uidplus) {
  Set set(mailimap_set_new_single(uid));
  arm(s);
  if (has_move) return check(mailimap_uid_move(s, set.get(), done.c_str()), "UID MOVE", s);
  if (!has_uidplus) return add_flags(s, uid, true, false, kStoredKeyword);
  check(mailimap_uid_copy(s, set.get(), done.c_str()), "UID COPY", s);
  mailimap_flag_list* flags = mailimap_flag_list_new_empty();
  mailimap_flag_list_add(flags, mailimap_flag_new_deleted());
  mailimap_store_att_flags* att = mailimap_store_att_flags_new_add_flags_silent(flags);
  arm(s);
  int rc = mailimap_uid_store(s, set.get(), att);
  mailimap_store_att_flags_free(att);
  check(rc, "UID STORE +FLAGS (\\Deleted)", s);
  arm(s);
  check(mailimap_uid_expunge(s, set.get()), "UID EXPUNGE", s);
}

}  // namespace cased::imap
