//! A bounded map approximating an LRU with two generations: when the young generation holds `generation`
//! entries it becomes the old one and the previous old one is dropped; an entry used from the old generation
//! moves back to the young one. Every operation is one or two hash lookups, and at most `capacity` entries are
//! held.

use std::collections::HashMap;
use std::hash::Hash;

pub struct Generations<K, V> {
    /// Entries per generation; 0 holds nothing.
    generation: usize,
    young: HashMap<K, V>,
    old: HashMap<K, V>,
}

impl<K: Hash + Eq, V> Generations<K, V> {
    /// Holds at most `capacity` entries (none when it is below 2).
    pub fn new(capacity: usize) -> Generations<K, V> {
        Generations { generation: capacity / 2, young: HashMap::new(), old: HashMap::new() }
    }

    /// Whether `key` is held; a hit in the old generation moves it back to the young one.
    pub fn touch(&mut self, key: &K) -> bool {
        if self.young.contains_key(key) {
            return true;
        }
        match self.old.remove_entry(key) {
            Some((key, value)) => {
                self.insert(key, value);
                true
            }
            None => false,
        }
    }

    /// The value under `key`, moved back to the young generation if it was in the old one.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        if self.touch(key) {
            self.young.get_mut(key)
        } else {
            None
        }
    }

    pub fn insert(&mut self, key: K, value: V) {
        if self.generation == 0 {
            return;
        }
        if self.young.len() >= self.generation && !self.young.contains_key(&key) {
            self.old = std::mem::take(&mut self.young);
        }
        self.old.remove(&key);
        self.young.insert(key, value);
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.young.remove(key).or_else(|| self.old.remove(key))
    }

    pub fn clear(&mut self) {
        self.young.clear();
        self.old.clear();
    }

    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.young.is_empty() && self.old.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_most_its_capacity_and_keeps_what_is_used() {
        let mut map = Generations::new(4);
        map.insert(0, "zero");
        for i in 1..100 {
            map.insert(i, "other");
            assert!(map.touch(&0), "an entry in use is kept ({i})");
            assert!(map.touch(&i), "the newest entry is kept ({i})");
            assert!(map.len() <= 4, "{}", map.len());
        }
        assert_eq!(map.get_mut(&0).map(|v| *v), Some("zero"));
        assert_eq!((0..100).filter(|i| map.touch(i)).count(), map.len());
        assert_eq!(map.remove(&0), Some("zero"));
        assert!(!map.touch(&0));
        map.clear();
        assert!(map.is_empty());
        let mut off = Generations::new(0);
        off.insert(1, ());
        assert!(!off.touch(&1));
    }

    #[test]
    fn an_entry_replaced_in_the_young_generation_is_not_held_twice() {
        let mut map = Generations::new(4);
        map.insert(1, 'a');
        map.insert(2, 'b');
        map.insert(3, 'c'); // 1 and 2 are now old
        map.insert(1, 'd');
        assert_eq!(map.len(), 3);
        assert_eq!(map.get_mut(&1).copied(), Some('d'));
    }
}
