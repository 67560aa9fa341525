//! Tokens stored recently, so a value that repeats (the same email in every batch of a session) skips the
//! storage lookup. Two generations approximate an LRU in bounded memory: when the young generation is full it
//! becomes the old one and the previous old one is dropped; a hit in the old generation moves the token back.

use std::sync::Mutex;

use crate::generations::Generations;

/// A token's last 32 characters: the base32 HMAC, unique per (entity, value) under one tenant key.
type Key = [u8; 32];

pub struct RecentTokens {
    inner: Mutex<Generations<Key, ()>>,
}

impl RecentTokens {
    /// Remembers about `capacity` tokens (at most `capacity`); 0 remembers none.
    pub fn new(capacity: usize) -> RecentTokens {
        RecentTokens { inner: Mutex::new(Generations::new(capacity)) }
    }

    pub fn contains(&self, token: &str) -> bool {
        let key = key(token);
        self.inner.lock().is_ok_and(|mut inner| inner.touch(&key))
    }

    pub fn insert(&self, token: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.insert(key(token), ());
        }
    }

    /// Forgets every token (their entries may have become unreadable).
    pub fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.clear();
        }
    }
}

fn key(token: &str) -> Key {
    let bytes = token.as_bytes();
    let tail = &bytes[bytes.len().saturating_sub(32)..];
    let mut key = [0; 32];
    key[32 - tail.len()..].copy_from_slice(tail);
    key
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
        recent.insert(&token(0));
        for i in 1..100 {
            recent.insert(&token(i));
            assert!(recent.contains(&token(0)), "a token in use is kept ({i})");
            assert!(recent.contains(&token(i)), "the newest token is kept ({i})");
        }
        let held = (0..100).filter(|&i| recent.contains(&token(i))).count();
        assert!(held <= 4, "{held}");
        let off = RecentTokens::new(0);
        off.insert(&token(1));
        assert!(!off.contains(&token(1)));
    }
}
