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
    /// The store generation (`Db::generation`) the remembered tokens were stored in, and the tokens. Entries
    /// written before the store was reopened after an I/O error may be gone, so a new generation forgets them all.
    inner: Mutex<(u64, Generations<Value, Tail>)>,
    keys: [RandomState; 2],
}

impl RecentTokens {
    /// Remembers about `capacity` tokens (at most `capacity`); 0 remembers none.
    pub(super) fn new(capacity: usize) -> RecentTokens {
        RecentTokens {
            inner: Mutex::new((0, Generations::new(capacity))),
            keys: [RandomState::new(), RandomState::new()],
        }
    }

    pub(super) fn value(&self, entity: &str, original: &str) -> Value {
        let [high, low] = self.keys.each_ref().map(|key| key.hash_one((entity, original)));
        Value(u128::from(high) << 64 | u128::from(low))
    }

    /// The token `value` was stored under as `<prefix>_<entity>_…`, if it is remembered from the store's current
    /// `generation`.
    pub(super) fn token(&self, value: Value, prefix: &str, entity: &str, generation: u64) -> Option<String> {
        let tail = {
            let mut inner = self.inner.lock().ok()?;
            if inner.0 != generation {
                inner.1.clear();
                inner.0 = generation;
                return None;
            }
            inner.1.get_mut(&value).copied()?
        };
        let mut token = token_head(prefix, entity);
        token.push_str(std::str::from_utf8(&tail).ok()?);
        Some(token)
    }

    /// Remembers `token` for `value`; call only once its entry is in the vault's tree, with the store generation
    /// read before it was written.
    pub(super) fn insert(&self, value: Value, token: &str, generation: u64) {
        let Some(tail) = token.len().checked_sub(32).and_then(|at| token.as_bytes()[at..].try_into().ok()) else {
            return;
        };
        if let Ok(mut inner) = self.inner.lock() {
            if inner.0 > generation {
                return;
            }
            if inner.0 < generation {
                inner.1.clear();
                inner.0 = generation;
            }
            inner.1.insert(value, tail);
        }
    }

    /// Forgets every token (their entries may have become unreadable).
    pub(super) fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.1.clear();
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
        recent.insert(value(0), &token(0), 0);
        for i in 1..100 {
            recent.insert(value(i), &token(i), 0);
            assert_eq!(recent.token(value(0), "tok", "email", 0), Some(token(0)), "a token in use is kept ({i})");
            assert_eq!(recent.token(value(i), "tok", "email", 0), Some(token(i)), "the newest token is kept ({i})");
        }
        let held = (0..100).filter(|&i| recent.token(value(i), "tok", "email", 0).is_some()).count();
        assert!(held <= 4, "{held}");
        recent.clear();
        assert_eq!(recent.token(value(0), "tok", "email", 0), None);
        let off = RecentTokens::new(0);
        off.insert(off.value("email", "a@example.com"), &token(1), 0);
        assert_eq!(off.token(off.value("email", "a@example.com"), "tok", "email", 0), None);
    }

    #[test]
    fn tokens_stored_before_the_store_was_reopened_are_forgotten() {
        let recent = RecentTokens::new(16);
        let value = recent.value("email", "a@example.com");
        recent.insert(value, &token(1), 0);
        assert_eq!(recent.token(value, "tok", "email", 1), None, "its entry may be gone with the reopen");
        recent.insert(value, &token(1), 0);
        assert_eq!(recent.token(value, "tok", "email", 1), None, "a write read at the old generation is not kept");
        recent.insert(value, &token(1), 1);
        assert_eq!(recent.token(value, "tok", "email", 1), Some(token(1)));
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
