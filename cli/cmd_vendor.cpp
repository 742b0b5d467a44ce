// casectl vendor add|list|show|edit|remove|import-securitytxt: the global
// vendor contact book. Changes are logged in the book (vendor_log), not in
// a case: a vendor belongs to no case.
#include "cmd_vendor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "commands.hpp"
#include "core/text.hpp"
#include "core/util.hpp"
#include "cvd/vendor_securitytxt.hpp"

namespace cased::cli {
namespace {

void warn(const std::string& text) { std::cerr << "casectl: warning: " << display_safe(text) << "\n"; }

std::string checked_name(const std::string& name) {
  if (name.empty()) fail(ExitCode::usage, "give the vendor's NAME");
  if (!valid_vendor_name(name))
    fail(ExitCode::usage, fmt::format("bad vendor name '{}': a short lower-case word ([a-z0-9][a-z0-9._-]*, at most "
                                      "{} characters)",
                                      display_safe(clip(name, 80)), kMaxVendorName));
  return name;
}

// A text option as stored: "none" clears it (edit); it must be UTF-8 without
// control characters but for tab (--postal may hold line breaks).
std::optional<std::string> text_field(const std::string& option, const std::string& value, bool multiline = false) {
  if (value == "none" || value.empty()) return std::nullopt;
  if (!is_valid_utf8(value) || value.size() > 4096)
    fail(ExitCode::usage, fmt::format("{} must be UTF-8 text of at most 4096 bytes", option));
  for (unsigned char c : value)
    if ((c < 0x20 && c != '\t' && !(multiline && c == '\n')) || c == 0x7f)
      fail(ExitCode::usage, fmt::format("{} holds a control character", option));
  return value;
}

void add_contact(Vendor& v, const std::string& addr) {
  if (std::find(v.contacts.begin(), v.contacts.end(), addr) == v.contacts.end()) v.contacts.push_back(addr);
}

// The options of add and edit applied to `v` (the key and security.txt apart).
void apply_fields(Vendor& v, const VendorArgs& va) {
  if (va.contacts_given) {
    v.contacts.clear();
    v.bouncing.clear();  // a contact given again is believed to work again
    for (const auto& c : va.contacts) add_contact(v, analyst_address(c));
  }
  if (va.url) v.url = text_field("--url", *va.url);
  if (va.phone) v.phone = text_field("--phone", *va.phone);
  if (va.postal) v.postal = text_field("--postal", *va.postal, true);
  if (va.note) v.note = text_field("--note", *va.note, true);
}

// What an imported security.txt adds: its mail contacts after the others,
// url, phone and key where the vendor has none, and its record.
void apply_securitytxt(Vendor& v, const SecurityTxtImport& st) {
  for (const auto& m : st.mail) add_contact(v, m);
  if (!v.url && st.url) v.url = st.url;
  if (!v.phone && st.phone) v.phone = st.phone;
  std::optional<std::string> key = st.key ? std::optional(st.key->info.fingerprint) : std::nullopt;
  if (key && v.key && *v.key != *key)
    warn(fmt::format("security.txt names key {}, the book keeps {} (change it with vendor edit {} --key FPR)", *key,
                     *v.key, v.name));
  if (!v.key) v.key = key;
}

// After the signature is checked: its record, and whose it is.
void record_securitytxt(Vendor& v, const SecurityTxtImport& st) {
  v.securitytxt = st.record;
  const auto& signer = st.record.signer;
  if (st.record.signature == "good" && v.key && signer && *signer != *v.key)
    warn(fmt::format("security.txt is signed by {}, not by the vendor's key {}", *signer, *v.key));
}

std::unique_ptr<Crypto> keyring(Context& ctx) {
  auto c = ctx.crypto();
  if (!c) fail(ExitCode::failure, fmt::format("gpg.home {} is needed for vendor keys", ctx.config.gpg.home));
  return c;
}

std::string describe(const Vendor& v) {
  std::string contacts;
  for (const auto& c : v.contacts) contacts += (contacts.empty() ? "" : ", ") + c;
  return fmt::format("contacts {}; key {}", contacts.empty() ? "none" : contacts, v.key.value_or("none"));
}

void report(const Vendor& v, const char* done, const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) warn(w);
  std::cout << fmt::format("vendor {} {}: {}\n", v.name, done, display_safe(describe(v)));
  if (!v.key) std::cout << fmt::format("vendor {} has no key: notifications to it will be refused until it has one\n",
                                       v.name);
}

// add and edit: the book's entry after the options, written whole.
int vendor_write(Context& ctx, const VendorArgs& va, bool add) {
  std::string name = checked_name(va.name);
  Store s = ctx.store();
  Vendor v;
  if (add) {
    if (s.get_vendor(name)) fail(ExitCode::usage, fmt::format("vendor {} is in the book already (vendor edit {})",
                                                              name, name));
    v.name = name;
  } else {
    v = check(s.get_vendor(name));
  }
  apply_fields(v, va);
  // Everything is checked first; the keyring and the book change after.
  std::unique_ptr<Crypto> crypto;
  bool new_key = va.key && *va.key != "none";
  if (new_key || va.securitytxt) crypto = keyring(ctx);
  std::optional<PendingKey> key;
  if (new_key) key = check_vendor_key(ctx, *crypto, *va.key);
  if (va.key) v.key = key ? std::optional(key->info.fingerprint) : std::nullopt;
  std::optional<SecurityTxtImport> st;
  if (va.securitytxt) st = read_securitytxt(ctx, *crypto, va, *va.securitytxt, key);
  if (st) apply_securitytxt(v, *st);
  if (v.contacts.empty() && !v.url && !v.phone && !v.postal)
    fail(ExitCode::usage, fmt::format("vendor {} needs a way to reach it: --contact ADDR (or --url, --phone, --postal)",
                                      name));
  if (crypto) commit_keys(*crypto, key, st ? &*st : nullptr, v.key, v.contacts);
  if (st) record_securitytxt(v, *st);
  check(s.save_vendor(v, add ? VendorWrite::add : VendorWrite::edit, describe(v), ctx.actor));
  report(v, add ? "added" : "changed", st ? st->warnings : std::vector<std::string>{});
  return 0;
}

int vendor_import(Context& ctx, const VendorArgs& va) {
  std::string name = checked_name(va.name);
  if (va.source.empty()) fail(ExitCode::usage, "usage: casectl vendor import-securitytxt NAME FILE|URL");
  Store s = ctx.store();
  Vendor v = check(s.get_vendor(name));
  auto crypto = keyring(ctx);
  SecurityTxtImport st = read_securitytxt(ctx, *crypto, va, va.source);
  apply_securitytxt(v, st);
  commit_keys(*crypto, std::nullopt, &st, v.key, v.contacts);
  record_securitytxt(v, st);
  check(s.save_vendor(v, VendorWrite::import_securitytxt, describe(v), ctx.actor));
  report(v, "updated from its security.txt", st.warnings);
  return 0;
}

nlohmann::json optional_json(const std::optional<std::string>& s) { return s ? nlohmann::json(*s) : nullptr; }

nlohmann::json to_json(const Vendor& v) {
  nlohmann::json st = nullptr;
  if (v.securitytxt) {
    const auto& r = *v.securitytxt;
    st = {{"expires", r.expires ? nlohmann::json(format_rfc3339(*r.expires)) : nlohmann::json(nullptr)},
          {"signed", r.signed_},
          {"signature", optional_json(r.signature)},
          {"signer", optional_json(r.signer)},
          {"imported", format_rfc3339(r.imported)}};
  }
  nlohmann::json details = nlohmann::json::array();
  for (const auto& c : v.contacts) {
    auto b = v.bouncing.find(c);
    details.push_back({{"address", c},
                       {"bouncing", b == v.bouncing.end() ? nlohmann::json(nullptr) : nlohmann::json(format_rfc3339(b->second))}});
  }
  return {{"name", v.name},       {"contacts", v.contacts},  {"contact_details", details}, {"key", optional_json(v.key)},
          {"url", optional_json(v.url)}, {"phone", optional_json(v.phone)}, {"postal", optional_json(v.postal)},
          {"note", optional_json(v.note)}, {"securitytxt", st}, {"created", format_rfc3339(v.created)},
          {"updated", format_rfc3339(v.updated)}};
}

std::string securitytxt_line(const VendorSecurityTxt& r, std::int64_t now) {
  std::string expires = r.expires ? format_rfc3339(*r.expires) : std::string("no Expires");
  if (r.expires && *r.expires <= now) expires += " (EXPIRED)";
  std::string sig = r.signed_ ? fmt::format("signature {}{}", r.signature.value_or("?"),
                                            r.signer ? " by " + *r.signer : std::string())
                              : "not signed";
  return fmt::format("imported {}, expires {}, {}", format_rfc3339(r.imported).substr(0, 10), expires, sig);
}

int vendor_show(Context& ctx, const VendorArgs& va) {
  std::string name = checked_name(va.name);
  Store s = ctx.store();
  Vendor v = check(s.get_vendor(name));
  if (ctx.json) {
    print_json(to_json(v));
    return 0;
  }
  std::string out = fmt::format("vendor   {}\n", v.name);
  for (const auto& c : v.contacts) {
    auto b = v.bouncing.find(c);
    out += fmt::format("contact  {}{}\n", c,
                       b == v.bouncing.end() ? "" : fmt::format(" (BOUNCING since {})", format_rfc3339(b->second)));
  }
  out += fmt::format("key      {}\n", v.key.value_or("none (notifications will be refused)"));
  auto line = [&](const char* label, const std::optional<std::string>& f) {
    if (f) out += fmt::format("{:<9}{}\n", label, display_safe(*f));
  };
  line("url", v.url);
  line("phone", v.phone);
  line("postal", v.postal);
  line("note", v.note);
  if (v.securitytxt) out += fmt::format("security.txt {}\n", securitytxt_line(*v.securitytxt, now_unix()));
  out += "history\n";
  for (const auto& e : check(s.vendor_log(name)))
    out += fmt::format("  {} {} {}: {}\n", format_rfc3339(e.at), display_safe(e.actor), e.action,
                       display_safe(e.detail));
  std::cout << out;
  return 0;
}

int vendor_list(Context& ctx) {
  Store s = ctx.store();
  auto vendors = check(s.list_vendors());
  if (ctx.json) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& v : vendors) a.push_back(to_json(v));
    print_json(a);
    return 0;
  }
  if (vendors.empty()) std::cout << "no vendors in the book (casectl vendor add NAME --contact ADDR)\n";
  for (const auto& v : vendors) {
    std::string first = v.contacts.empty() ? "-" : v.contacts.front();
    if (v.contacts.size() > 1) first += fmt::format(" (+{})", v.contacts.size() - 1);
    std::cout << fmt::format("{:<16} {:<40} {}\n", v.name, first,
                             v.key ? "key " + v.key->substr(v.key->size() - 16) : std::string("NO KEY"));
  }
  return 0;
}

}  // namespace

void vendor_options(CLI::App& c, Args& a) {
  VendorArgs& v = a.vendor;
  c.add_option("ACTION", a.action, "add | list | show | edit | remove | import-securitytxt");
  c.add_option("NAME", v.name, "the vendor: a short lower-case word");
  c.add_option("SOURCE", v.source, "import-securitytxt: the security.txt FILE or https URL");
  auto* contact = c.add_option("--contact", v.contacts, "a mail contact (repeatable; edit: replaces them all)");
  auto* key = c.add_option("--key", a.vendor.raw[0],
                           "the vendor's public key FILE or https URL, or the FPR of a key in gpg.home");
  auto* st = c.add_option("--securitytxt", a.vendor.raw[1],
                          "read contacts and key from this RFC 9116 FILE or https URL");
  auto* phone = c.add_option("--phone", a.vendor.raw[2], "a phone number ('none' clears)");
  auto* postal = c.add_option("--postal", a.vendor.raw[3], "a postal address ('none' clears)");
  auto* url = c.add_option("--url", a.vendor.raw[4], "a security page or form ('none' clears)");
  auto* note = c.add_option("--note", a.vendor.raw[5], "a note for analysts ('none' clears)");
  c.add_flag("--allow-expired", v.allow_expired, "take a security.txt past its Expires");
  c.add_flag("--allow-unsigned", v.allow_unsigned, "take an unsigned security.txt from a file");
  c.callback([&a, contact, key, st, phone, postal, url, note] {
    VendorArgs& va = a.vendor;
    va.contacts_given = contact->count() > 0;
    auto given = [&](CLI::Option* o, int i) {
      return o->count() > 0 ? std::optional<std::string>(a.vendor.raw[i]) : std::nullopt;
    };
    va.key = given(key, 0);
    va.securitytxt = given(st, 1);
    va.phone = given(phone, 2);
    va.postal = given(postal, 3);
    va.url = given(url, 4);
    va.note = given(note, 5);
  });
}

int cmd_vendor(Context& ctx, const Args& a) {
  const VendorArgs& va = a.vendor;
  const std::string& act = a.action;
  bool fields = va.contacts_given || va.key || va.securitytxt || va.phone || va.postal || va.url || va.note;
  if (fields && act != "add" && act != "edit")
    fail(ExitCode::usage, fmt::format("vendor {}: --contact, --key and the other fields go with add or edit",
                                      act.empty() ? "list" : act));
  if (!va.source.empty() && act != "import-securitytxt")
    fail(ExitCode::usage, fmt::format("vendor {}: too many arguments", act));
  if (act.empty() || act == "list") {
    if (!va.name.empty()) fail(ExitCode::usage, "vendor list takes no NAME (vendor show NAME)");
    return vendor_list(ctx);
  }
  if (act == "show") return vendor_show(ctx, va);
  if (act == "add") return vendor_write(ctx, va, true);
  if (act == "edit") {
    if (!fields) fail(ExitCode::usage, "vendor edit NAME: give what to change (--contact, --key, --url...)");
    return vendor_write(ctx, va, false);
  }
  if (act == "import-securitytxt") return vendor_import(ctx, va);
  if (act == "remove") {
    std::string name = checked_name(va.name);
    Store s = ctx.store();
    check(s.remove_vendor(name, ctx.actor));
    std::cout << fmt::format("vendor {} removed (pins of its contacts' keys are kept)\n", name);
    return 0;
  }
  fail(ExitCode::usage,
       fmt::format("unknown vendor action '{}' (add, list, show, edit, remove, import-securitytxt)", display_safe(act)));
}

}  // namespace cased::cli
