// The vendor contact book as the store keeps it (store/vendors.cpp): one
// global list of vendors, each with its mail contacts, its key and what its
// last imported security.txt said. Checking names, addresses and keys is
// the caller's work; the store keeps what it is given.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cased {

// What the last imported security.txt said; none before an import.
struct VendorSecurityTxt {
  std::int64_t imported = 0;
  std::optional<std::int64_t> expires;
  bool signed_ = false;
  std::optional<std::string> signature;  // good | bad | unknown-key; none when unsigned
  std::optional<std::string> signer;     // the signing key's fingerprint, when known

  bool operator==(const VendorSecurityTxt&) const = default;
};

struct Vendor {
  std::string name;
  std::vector<std::string> contacts;  // lower-case addr-specs, in the order given
  std::optional<std::string> key;     // fingerprint
  std::optional<std::string> url, phone, postal, note;
  std::optional<VendorSecurityTxt> securitytxt;
  // Contacts a delivery report said fail, and since when (kept by save_vendor
  // for the contacts it keeps; a contact given again starts without one).
  std::map<std::string, std::int64_t> bouncing;
  std::int64_t created = 0, updated = 0;  // set by the store

  bool operator==(const Vendor&) const = default;
};

// One change to the book (the vendor_log table).
struct VendorLogEntry {
  std::string vendor;
  std::int64_t at = 0;
  std::string actor, action, detail;
};

// How save_vendor writes: `add` refuses a name that exists, the others
// (edit, import-securitytxt) need it to exist.
enum class VendorWrite { add, edit, import_securitytxt };

}  // namespace cased
