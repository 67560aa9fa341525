//! Tokens stored recently, by the value they stand for, so a value that repeats (the same email in every batch
//! of a session) gets its token without computing the HMAC again and without the storage lookup. Two
//! generations approximate an LRU in bounded memory: when the young generation is full it becomes the old one
//! and the previous old one is dropped; a hit in the old generation moves the token back.
//!
//! A value is remembered by a 128-bit keyed hash of (entity, original): two SipHashes under keys the standard
//! library draws at random when the vault opens. Never by the value itself: the map holds no PII, and nothing in
//! it can be checked against a guessed value outside this process. A wrong token would need both hashes of two
//! values to collide.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Mutex;

use traceflow_pii::token_head;

use crate::generations::Generations;

/// Which value a token stands for: a 128-bit keyed hash of (entity, original).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Value(u128);

/// A token's last 32 characters: the base32 HMAC, unique per (entity, value) under one tenant key.
type Tail = [u8; 32];

pub(super) struct RecentTokens {
    inner: Mutex<Generations<Value, Tail>>,
    keys: [RandomState; 2],
}

impl RecentTokens {
    /// Remembers about `capacity` tokens (at most `capacity`); 0 remembers none.
    pub(super) fn new(capacity: usize) -> RecentTokens {
        RecentTokens { inner: Mutex::new(Generations::new(capacity)), keys: [RandomState::new(), RandomState::new()] }
    }

    pub(super) fn value(&self, entity: &str, original: &str) -> Value {
        let [high, low] = self.keys.each_ref().map(|key| key.hash_one((entity, original)));
        Value(u128::from(high) << 64 | u128::from(low))
    }

    /// The token `value` was stored under as `<prefix>_<entity>_…`, if it is remembered.
    pub(super) fn token(&self, value: Value, prefix: &str, entity: &str) -> Option<String> {
        let tail = self.inner.lock().ok()?.get_mut(&value).copied()?;
        let mut token = token_head(prefix, entity);
        token.push_str(std::str::from_utf8(&tail).ok()?);
        Some(token)
    }

    /// Remembers `token` for `value`; call only once its entry is in the vault's tree.
    pub(super) fn insert(&self, value: Value, token: &str) {
        let Some(tail) = token.len().checked_sub(32).and_then(|at| token.as_bytes()[at..].try_into().ok()) else {
            return;
        };
        if let Ok(mut inner) = self.inner.lock() {
            inner.insert(value, tail);
        }
    }

    /// Forgets every token (their entries may have become unreadable).
    pub(super) fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(i: usize) -> String {
        format!("tok_email_{i:0>32}")
    }

    #[test]
    fn holds_at_most_its_capacity_and_keeps_what_is_used() {
        let recent = RecentTokens::new(4);
        let value = |i: usize| recent.value("email", &format!("user{i}@example.com"));
        recent.insert(value(0), &token(0));
        for i in 1..100 {
            recent.insert(value(i), &token(i));
            assert_eq!(recent.token(value(0), "tok", "email"), Some(token(0)), "a token in use is kept ({i})");
            assert_eq!(recent.token(value(i), "tok", "email"), Some(token(i)), "the newest token is kept ({i})");
        }
        let held = (0..100).filter(|&i| recent.token(value(i), "tok", "email").is_some()).count();
        assert!(held <= 4, "{held}");
        recent.clear();
        assert_eq!(recent.token(value(0), "tok", "email"), None);
        let off = RecentTokens::new(0);
        off.insert(off.value("email", "a@example.com"), &token(1));
        assert_eq!(off.token(off.value("email", "a@example.com"), "tok", "email"), None);
    }

    #[test]
    fn a_value_is_told_apart_by_its_entity_and_by_where_entity_and_value_meet() {
        let recent = RecentTokens::new(16);
        assert_eq!(recent.value("email", "x"), recent.value("email", "x"));
        assert_ne!(recent.value("email", "x"), recent.value("phone", "x"));
        assert_ne!(recent.value("ab", "c"), recent.value("a", "bc"));
        // Another vault (another process) draws other keys.
        assert_ne!(recent.value("email", "x"), RecentTokens::new(16).value("email", "x"));
    }
}
