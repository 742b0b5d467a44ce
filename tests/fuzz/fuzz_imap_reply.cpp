// IMAP server replies, through libetpan's IMAP client as the poller drives
// it (greeting, LOGIN, CREATE, SELECT, UID FETCH of the UIDs and of each
// body, UID MOVE or COPY + STORE + EXPUNGE, IDLE, NOOP, LOGOUT), with the
// server's side read from the input by a mailstream over memory. The
// poller's own functions are private to daemon/imap_poller.cpp, so this
// repeats its calls; fetch results are owned only on success (libetpan 1.9.4
// frees them itself on NO).
#include <libetpan/libetpan.h>

#include <cstdlib>
#include <cstring>
#include <strings.h>
#include <memory>
#include <vector>

#include "fuzz_common.hpp"
#include "net/net.hpp"

namespace {

// The server's bytes, read by a mailstream over memory; what the client
// writes is swallowed. The end of the input is a read error (-1), not an end
// of stream (0): libetpan 1.9.4 reads a literal in a loop that takes 0 as
// "nothing yet", so a server that announces {N} and closes the connection
// early keeps the client spinning for ever, over TCP and TLS alike
// (corpus file seed-huge-literal; see docs/benchmarks.md "Fuzzing"). A
// target that hangs on that one input could find nothing else.
struct Input {
  const char* next;
  std::size_t left;
};

ssize_t mem_read(mailstream_low* s, void* buf, std::size_t count) {
  auto* in = static_cast<Input*>(s->data);
  if (in->left == 0) return -1;
  std::size_t n = count < in->left ? count : in->left;
  std::memcpy(buf, in->next, n);
  in->next += n;
  in->left -= n;
  return static_cast<ssize_t>(n);
}
ssize_t mem_write(mailstream_low*, const void*, std::size_t count) { return static_cast<ssize_t>(count); }
int mem_close(mailstream_low*) { return 0; }
int mem_fd(mailstream_low*) { return -1; }
void mem_free(mailstream_low* s) {
  delete static_cast<Input*>(s->data);
  std::free(s);
}
void mem_cancel(mailstream_low*) {}
struct mailstream_cancel* mem_get_cancel(mailstream_low*) { return nullptr; }
carray* mem_certificates(mailstream_low*) { return nullptr; }
int mem_idle(mailstream_low*) { return -1; }

mailstream_low_driver memory_driver = {mem_read,       mem_write,        mem_close, mem_fd,   mem_free, mem_cancel,
                                       mem_get_cancel, mem_certificates, mem_idle,  mem_idle, mem_idle};

struct ImapFree {
  void operator()(mailimap* s) const { mailimap_free(s); }
};
struct SetFree {
  void operator()(mailimap_set* s) const { mailimap_set_free(s); }
};
using ImapSet = std::unique_ptr<mailimap_set, SetFree>;
struct FetchFree {
  void operator()(clist* l) const { mailimap_fetch_list_free(l); }
};
using FetchList = std::unique_ptr<clist, FetchFree>;

// UID FETCH of `set` with one attribute: the result when the server said
// OK, else nothing, with `rc` set.
FetchList uid_fetch(mailimap* s, mailimap_set* set, mailimap_fetch_att* att, int& rc) {
  mailimap_fetch_type* type = mailimap_fetch_type_new_fetch_att_list_empty();
  mailimap_fetch_type_new_fetch_att_list_add(type, att);
  clist* result = nullptr;
  rc = mailimap_uid_fetch(s, set, type, &result);
  mailimap_fetch_type_free(type);
  return rc == MAILIMAP_NO_ERROR ? FetchList(result) : FetchList();
}

// The first static attribute of type `att_type` in a fetch result.
mailimap_msg_att_static* find(clist* list, int att_type) {
  for (clistiter* it = clist_begin(list); it; it = clist_next(it)) {
    auto* msg = static_cast<mailimap_msg_att*>(clist_content(it));
    for (clistiter* a = clist_begin(msg->att_list); a; a = clist_next(a)) {
      auto* item = static_cast<mailimap_msg_att_item*>(clist_content(a));
      if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC && item->att_data.att_static->att_type == att_type)
        return item->att_data.att_static;
    }
  }
  return nullptr;
}

// The poller's check(): any error ends the session.
struct Stop {};
void check(int rc) {
  if (rc != MAILIMAP_NO_ERROR) throw Stop{};
}

std::vector<std::uint32_t> uids(mailimap* s) {
  ImapSet set(mailimap_set_new_interval(1, 0));
  int rc = 0;
  FetchList list = uid_fetch(s, set.get(), mailimap_fetch_att_new_uid(), rc);
  if (rc == MAILIMAP_ERROR_FETCH) return {};  // an empty mailbox, as the poller takes it
  check(rc);
  std::vector<std::uint32_t> out;
  for (clistiter* it = clist_begin(list.get()); it; it = clist_next(it)) {
    auto* msg = static_cast<mailimap_msg_att*>(clist_content(it));
    for (clistiter* a = clist_begin(msg->att_list); a; a = clist_next(a)) {
      auto* item = static_cast<mailimap_msg_att_item*>(clist_content(a));
      if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC && item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_UID)
        out.push_back(item->att_data.att_static->att_data.att_uid);
    }
  }
  return out;
}

// The body's size; 0 when the server refused this one message (the poller goes on).
std::size_t body_size(mailimap* s, std::uint32_t uid) {
  ImapSet set(mailimap_set_new_single(uid));
  int rc = 0;
  FetchList list = uid_fetch(s, set.get(), mailimap_fetch_att_new_body_peek_section(mailimap_section_new(nullptr)), rc);
  if (rc == MAILIMAP_ERROR_FETCH) return 0;
  check(rc);
  auto* body = find(list.get(), MAILIMAP_MSG_ATT_BODY_SECTION);
  return body ? body->att_data.att_body_section->sec_length : 0;
}

void move_done(mailimap* s, std::uint32_t uid, bool has_move, bool has_uidplus) {
  ImapSet set(mailimap_set_new_single(uid));
  if (has_move) {
    check(mailimap_uid_move(s, set.get(), "Processed"));
    return;
  }
  check(mailimap_uid_copy(s, set.get(), "Processed"));
  mailimap_flag_list* flags = mailimap_flag_list_new_empty();
  mailimap_flag_list_add(flags, mailimap_flag_new_deleted());
  mailimap_store_att_flags* att = mailimap_store_att_flags_new_add_flags_silent(flags);
  int rc = mailimap_uid_store(s, set.get(), att);
  mailimap_store_att_flags_free(att);
  check(rc);
  check(has_uidplus ? mailimap_uid_expunge(s, set.get()) : mailimap_expunge(s));
}

// The poller's own capability check (libetpan's dereferences NULL after
// crash-has-extension-null).
bool has_extension(mailimap* s, const char* name) { return cased::net::imap_has_capability(s, name); }

// One session in the poller's order: LOGIN, the capabilities it asks about
// once, CREATE (its result ignored), SELECT, one pass, IDLE, NOOP, LOGOUT.
void session(mailimap* s) {
  check(mailimap_login(s, "cased", "secret"));
  bool has_move = has_extension(s, "MOVE");
  bool has_uidplus = has_extension(s, "UIDPLUS");
  bool has_idle = has_extension(s, "IDLE");
  mailimap_create(s, "Processed");
  check(mailimap_select(s, "INBOX"));
  int moved = 0;
  for (std::uint32_t uid : uids(s))
    if (body_size(s, uid) > 0 && moved++ < 4) move_done(s, uid, has_move, has_uidplus);
  if (has_idle) {
    check(mailimap_idle(s));
    check(mailimap_idle_done(s));
  }
  check(mailimap_noop(s));
  mailimap_logout(s);
}

}  // namespace

// libetpan 1.9.4 leaks the parsed greeting when a server greets with BYE
// (mailimap_connect, seed-bye-greeting: 48 bytes per connection). Its frames
// have no frame pointers, so the fast unwinder stops inside libetpan and a
// narrower suppression would not match: every leak allocated in libetpan is
// ignored here. Double frees and use after free are still reported.
extern "C" const char* __lsan_default_suppressions() { return "leak:libetpan.so\n"; }

// libetpan allocates an IMAP literal's announced length at once (up to 4 GiB,
// seed-huge-literal). Under ASan each such allocation costs most of a second
// of shadow memory; allocations over 256 MB fail here instead (NULL, as
// under a memory limit), which runs libetpan's error path.
extern "C" const char* __asan_default_options() { return "max_allocation_size_mb=256:allocator_may_return_null=1"; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cased::fuzz::quiet();
  std::unique_ptr<mailimap, ImapFree> s(mailimap_new(0, nullptr));
  mailstream_low* low = mailstream_low_new(new Input{reinterpret_cast<const char*>(data), size}, &memory_driver);
  mailstream* stream = mailstream_new(low, 8192);
  int rc = mailimap_connect(s.get(), stream);
  if (rc != MAILIMAP_NO_ERROR_AUTHENTICATED && rc != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) return 0;
  try {
    session(s.get());
  } catch (const Stop&) {
  }
  return 0;
}
