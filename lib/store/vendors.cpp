// The vendor contact book (schema 16): the only module that writes the
// vendors, vendor_contacts and vendor_log tables.
#include <fmt/format.h>

#include "core/util.hpp"
#include "store/store.hpp"
#include "store/store_guard.hpp"

namespace cased {

using detail::guarded;

namespace {


Vendor vendor_row(const sql::Stmt& st) {
  Vendor v;
  v.name = st.text(0);
  v.key = st.opt_text(1);
  v.url = st.opt_text(2);
  v.phone = st.opt_text(3);
  v.postal = st.opt_text(4);
  v.note = st.opt_text(5);
  if (auto imported = st.opt_int64(6))
    v.securitytxt = VendorSecurityTxt{*imported, st.opt_int64(7), st.int64(8) != 0, st.opt_text(9), st.opt_text(10)};
  v.created = st.int64(11);
  v.updated = st.int64(12);
  return v;
}

}  // namespace

std::optional<Vendor> Store::read_vendor(const std::string& name) {
  auto& st = db_.cached("SELECT name, key, url, phone, postal, note, st_imported, st_expires, st_signed, "
                        "st_signature, st_signer, created, updated FROM vendors WHERE name = ?");
  st.bind(1, name);
  std::optional<Vendor> v;
  if (st.step()) v = vendor_row(st);
  st.reset();
  if (!v) return v;
  auto& c = db_.cached("SELECT address, bouncing_since FROM vendor_contacts WHERE vendor = ? ORDER BY position");
  c.bind(1, name);
  while (c.step()) {
    v->contacts.push_back(c.text(0));
    if (auto since = c.opt_int64(1)) v->bouncing[c.text(0)] = *since;
  }
  c.reset();
  return v;
}

Result<std::vector<Vendor>> Store::list_vendors() {
  return guarded([&]() -> Result<std::vector<Vendor>> {
    std::vector<Vendor> out;
    auto& st = db_.cached("SELECT name, key, url, phone, postal, note, st_imported, st_expires, st_signed, "
                          "st_signature, st_signer, created, updated FROM vendors ORDER BY name");
    while (st.step()) out.push_back(vendor_row(st));
    st.reset();
    auto& c = db_.cached("SELECT vendor, address, bouncing_since FROM vendor_contacts ORDER BY vendor, position");
    std::size_t i = 0;
    while (c.step()) {
      std::string name = c.text(0);
      while (i < out.size() && out[i].name < name) ++i;
      if (i < out.size() && out[i].name == name) {
        out[i].contacts.push_back(c.text(1));
        if (auto since = c.opt_int64(2)) out[i].bouncing[c.text(1)] = *since;
      }
    }
    c.reset();
    return out;
  });
}

Result<Vendor> Store::get_vendor(const std::string& name) {
  return guarded([&]() -> Result<Vendor> {
    auto v = read_vendor(name);
    if (!v) return Error{Errc::not_found, fmt::format("no vendor {} in the book (casectl vendor list)", name)};
    return *v;
  });
}

Status Store::save_vendor(const Vendor& v, VendorWrite how, const std::string& detail, const std::string& actor) {
  return guarded([&]() -> Status {
    sql::Transaction tx(db_);
    std::int64_t now = now_unix();
    auto old = read_vendor(v.name);
    if (how == VendorWrite::add && old)
      return Error{Errc::invalid, fmt::format("vendor {} is in the book already (casectl vendor edit {})", v.name,
                                              v.name)};
    if (how != VendorWrite::add && !old)
      return Error{Errc::not_found, fmt::format("no vendor {} in the book (casectl vendor add {} ...)", v.name, v.name)};
    const auto& st = v.securitytxt;
    db_.cached(
           "INSERT INTO vendors(name, key, url, phone, postal, note, st_imported, st_expires, st_signed, "
           "st_signature, st_signer, created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12) "
           "ON CONFLICT(name) DO UPDATE SET key = ?2, url = ?3, phone = ?4, postal = ?5, note = ?6, st_imported = ?7, "
           "st_expires = ?8, st_signed = ?9, st_signature = ?10, st_signer = ?11, updated = ?12")
        .bind(1, v.name)
        .bind(2, v.key)
        .bind(3, v.url)
        .bind(4, v.phone)
        .bind(5, v.postal)
        .bind(6, v.note)
        .bind(7, st ? std::optional<std::int64_t>(st->imported) : std::nullopt)
        .bind(8, st ? st->expires : std::nullopt)
        .bind(9, st && st->signed_)
        .bind(10, st ? st->signature : std::nullopt)
        .bind(11, st ? st->signer : std::nullopt)
        .bind(12, now)
        .run();
    db_.cached("DELETE FROM vendor_contacts WHERE vendor = ?").bind(1, v.name).run();
    int position = 0;
    for (const auto& address : v.contacts) {
      auto bouncing = v.bouncing.find(address);  // kept for a contact kept (a DSN said it fails)
      db_.cached("INSERT OR IGNORE INTO vendor_contacts(vendor, address, position, bouncing_since) VALUES (?, ?, ?, ?)")
          .bind(1, v.name)
          .bind(2, address)
          .bind(3, position++)
          .bind(4, bouncing == v.bouncing.end() ? std::nullopt : std::optional<std::int64_t>(bouncing->second))
          .run();
      if (v.key && pinned_fingerprint(address) != v.key) pin_in_transaction(address, *v.key, actor, now);
    }
    static constexpr const char* actions[] = {"add", "edit", "import-securitytxt"};
    db_.cached("INSERT INTO vendor_log(vendor, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)")
        .bind(1, v.name)
        .bind(2, now)
        .bind(3, actor)
        .bind(4, actions[static_cast<int>(how)])
        .bind(5, detail)
        .run();
    tx.commit();
    return ok_status();
  });
}

Status Store::remove_vendor(const std::string& name, const std::string& actor) {
  return guarded([&]() -> Status {
    sql::Transaction tx(db_);
    auto v = read_vendor(name);
    if (!v) return Error{Errc::not_found, fmt::format("no vendor {} in the book (casectl vendor list)", name)};
    db_.cached("DELETE FROM vendor_contacts WHERE vendor = ?").bind(1, name).run();
    db_.cached("DELETE FROM vendors WHERE name = ?").bind(1, name).run();
    std::string contacts;
    for (const auto& c : v->contacts) contacts += (contacts.empty() ? "" : ", ") + c;
    db_.cached("INSERT INTO vendor_log(vendor, at, actor, action, detail) VALUES (?, ?, ?, 'remove', ?)")
        .bind(1, name)
        .bind(2, now_unix())
        .bind(3, actor)
        .bind(4, fmt::format("removed (contacts {}; key {}); pins of its contacts kept",
                             contacts.empty() ? "none" : contacts, v->key.value_or("none")))
        .run();
    tx.commit();
    return ok_status();
  });
}

Result<std::vector<VendorLogEntry>> Store::vendor_log(const std::string& name) {
  return guarded([&]() -> Result<std::vector<VendorLogEntry>> {
    std::vector<VendorLogEntry> out;
    auto& st = db_.cached("SELECT vendor, at, actor, action, detail FROM vendor_log WHERE vendor = ? ORDER BY at, id");
    st.bind(1, name);
    while (st.step()) out.push_back(VendorLogEntry{st.text(0), st.int64(1), st.text(2), st.text(3), st.text(4)});
    st.reset();
    return out;
  });
}

}  // namespace cased
