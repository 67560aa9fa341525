//! The kinds of personal data the engine knows by name, and what a detection of one looks like.
//!
//! Entity names are part of token text (`tok_<entity>_…`) and of policies, so they are stable snake_case strings.
//! Custom patterns and dictionaries may declare further entities; those get [`Entity::Custom`] ids whose names
//! the [`Engine`](super::Engine) that declared them knows.

/// A kind of personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    /// E-mail address.
    Email,
    /// Telephone number (international and national forms; IN, US, UK and DE digit rules).
    Phone,
    /// Payment card number (13–19 digits, known issuer prefix, Luhn).
    Card,
    /// International bank account number (per-country length, mod-97).
    Iban,
    /// US social security number.
    Ssn,
    /// Indian Aadhaar number (12 digits, Verhoeff).
    Aadhaar,
    /// Indian permanent account number (tax id).
    Pan,
    /// Indian bank branch code.
    Ifsc,
    /// Indian UPI virtual payment address (`name@handle`).
    Upi,
    /// Indian GST identification number (checksum).
    Gstin,
    /// IPv4 or IPv6 address.
    Ip,
    /// MAC address.
    Mac,
    /// JSON web token.
    Jwt,
    /// Password, API key, bearer token, OTP, CVV or another secret.
    Secret,
    /// Credentials or sensitive parameters inside a URL.
    UrlCredential,
    /// Person name.
    Name,
    /// Postal address.
    Address,
    /// Date of birth.
    Dob,
    /// Bank account number (from field names only).
    Account,
    /// Postal or PIN code (from field names only).
    PostalCode,
    /// Identity document number: passport, national identity card, driving licence, voter id, tax or insurance
    /// number (from field names, input hints and context words; no checksum is common to them).
    IdNumber,
    /// An entity declared by a custom pattern or dictionary; the index is the engine's.
    Custom(u16),
}

impl Entity {
    /// Number of built-in entities; [`Entity::index`] is below it for every built-in entity.
    pub const BUILTIN_COUNT: usize = 21;

    /// Every built-in entity, in [`Entity::index`] order.
    pub const BUILTIN: [Entity; Entity::BUILTIN_COUNT] = [
        Entity::Email,
        Entity::Phone,
        Entity::Card,
        Entity::Iban,
        Entity::Ssn,
        Entity::Aadhaar,
        Entity::Pan,
        Entity::Ifsc,
        Entity::Upi,
        Entity::Gstin,
        Entity::Ip,
        Entity::Mac,
        Entity::Jwt,
        Entity::Secret,
        Entity::UrlCredential,
        Entity::Name,
        Entity::Address,
        Entity::Dob,
        Entity::Account,
        Entity::PostalCode,
        Entity::IdNumber,
    ];

    /// Position in [`Entity::BUILTIN`], or `None` for a custom entity.
    pub const fn index(self) -> Option<usize> {
        Some(match self {
            Entity::Email => 0,
            Entity::Phone => 1,
            Entity::Card => 2,
            Entity::Iban => 3,
            Entity::Ssn => 4,
            Entity::Aadhaar => 5,
            Entity::Pan => 6,
            Entity::Ifsc => 7,
            Entity::Upi => 8,
            Entity::Gstin => 9,
            Entity::Ip => 10,
            Entity::Mac => 11,
            Entity::Jwt => 12,
            Entity::Secret => 13,
            Entity::UrlCredential => 14,
            Entity::Name => 15,
            Entity::Address => 16,
            Entity::Dob => 17,
            Entity::Account => 18,
            Entity::PostalCode => 19,
            Entity::IdNumber => 20,
            Entity::Custom(_) => return None,
        })
    }

    /// The snake_case name of a built-in entity (`url_credential`), or `None` for a custom entity.
    pub fn builtin_name(self) -> Option<&'static str> {
        Some(match self {
            Entity::Email => "email",
            Entity::Phone => "phone",
            Entity::Card => "card",
            Entity::Iban => "iban",
            Entity::Ssn => "ssn",
            Entity::Aadhaar => "aadhaar",
            Entity::Pan => "pan",
            Entity::Ifsc => "ifsc",
            Entity::Upi => "upi",
            Entity::Gstin => "gstin",
            Entity::Ip => "ip",
            Entity::Mac => "mac",
            Entity::Jwt => "jwt",
            Entity::Secret => "secret",
            Entity::UrlCredential => "url_credential",
            Entity::Name => "name",
            Entity::Address => "address",
            Entity::Dob => "dob",
            Entity::Account => "account",
            Entity::PostalCode => "postal_code",
            Entity::IdNumber => "id_number",
            Entity::Custom(_) => return None,
        })
    }

    /// The built-in entity with this name.
    pub fn from_builtin_name(name: &str) -> Option<Entity> {
        Entity::BUILTIN.into_iter().find(|e| e.builtin_name() == Some(name))
    }

    /// Bit of this entity in a mask of built-in entities (0 for a custom entity).
    pub(crate) fn bit(self) -> u32 {
        self.bit_const()
    }

    pub(crate) const fn bit_const(self) -> u32 {
        match self.index() {
            Some(i) => 1 << i,
            None => 0,
        }
    }
}

/// One piece of personal data found in a text: what it is, where (byte range), and how sure the engine is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detection {
    pub entity: Entity,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset after the last byte.
    pub end: usize,
    /// 0.5 (weakest reported) to 1.0: structure alone, plus checksums, plus context keywords nearby.
    pub confidence: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_round_trip_in_index_order() {
        for (i, entity) in Entity::BUILTIN.into_iter().enumerate() {
            assert_eq!(entity.index(), Some(i));
            let name = entity.builtin_name().unwrap();
            assert_eq!(Entity::from_builtin_name(name), Some(entity));
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
        assert_eq!(Entity::from_builtin_name("custom"), None);
        assert_eq!(Entity::Custom(3).index(), None);
    }
}
