//! What recent sessions' replays told about their sensitive inputs ([`ReplayNodes`]), so that what is typed
//! into a password or card field is tokenized whole even when it arrives in a later batch than the snapshot
//! that described the field (rrweb names an input event's field by node id only).
//!
//! A batch is scrubbed with a copy of its session's record, and the copy is merged back afterwards, so batches
//! of one session may be scrubbed at once. Sessions without sensitive inputs are not recorded at all; the
//! others are bounded by two generations (`replay_sessions` in the configuration) and by
//! [`ReplayNodes::MAX_SENSITIVE`] each. A session forgotten, or a batch scrubbed before its snapshot's batch,
//! falls back to scanning the typed text as free text, as for any value.

use std::sync::Mutex;

use traceflow_pii::ReplayNodes;

use crate::generations::Generations;

/// `buffer::session_key`: project and session id, hashed.
type SessionKey = [u8; 16];

pub struct ReplaySessions {
    inner: Mutex<Generations<SessionKey, ReplayNodes>>,
}

/// The sessions' record was left poisoned by a panic while it was held: what it knows can no longer be trusted
/// whole, so batches that need it are refused (503) rather than scrubbed as if their sessions had no sensitive
/// inputs.
#[derive(Debug, thiserror::Error)]
#[error("the replay sessions' record is poisoned by an earlier panic")]
pub struct Poisoned;

impl ReplaySessions {
    /// Remembers at most `capacity` sessions; 0 remembers none.
    pub fn new(capacity: usize) -> ReplaySessions {
        ReplaySessions { inner: Mutex::new(Generations::new(capacity)) }
    }

    /// A copy of what the session's earlier batches told, to scrub one of its batches with.
    pub fn get(&self, session: &SessionKey) -> Result<ReplayNodes, Poisoned> {
        let mut inner = self.inner.lock().map_err(|_| Poisoned)?;
        Ok(inner.get_mut(session).cloned().unwrap_or_default())
    }

    /// Merges back what a batch scrubbed with [`ReplaySessions::get`]'s copy left.
    pub fn put(&self, session: SessionKey, nodes: ReplayNodes) -> Result<(), Poisoned> {
        let mut inner = self.inner.lock().map_err(|_| Poisoned)?;
        match inner.get_mut(&session) {
            Some(known) => {
                known.merge(nodes);
                if known.is_empty() {
                    inner.remove(&session);
                }
            }
            None => {
                let mut fresh = ReplayNodes::default();
                fresh.merge(nodes);
                if !fresh.is_empty() {
                    inner.insert(session, fresh);
                }
            }
        }
        Ok(())
    }

    /// Sessions remembered.
    pub fn remembered(&self) -> usize {
        self.inner.lock().map_or(0, |inner| inner.len())
    }
}

#[cfg(test)]
mod tests {
    use traceflow_pii::Engine;

    use super::super::Redact;
    use super::*;

    /// Scrubs a batch holding a full snapshot whose only input is `input_type`, with `nodes`.
    fn snapshot(nodes: &mut ReplayNodes, input_type: &str) {
        let batch = format!(
            r#"{{"session_id":"s","seq":1,"replay":[{{"type":2,"timestamp":1,"data":{{"node":{{"type":0,"id":1,
            "childNodes":[{{"type":2,"tagName":"input","id":5,"attributes":{{"type":"{input_type}"}},"childNodes":[]}}]}}}}}}]}}"#
        );
        Engine::default().scrub_session_json(batch.as_bytes(), nodes, &mut Redact, &mut Vec::new()).unwrap();
    }

    #[test]
    fn only_sessions_with_sensitive_inputs_are_kept_and_a_new_page_can_forget_one() {
        let sessions = ReplaySessions::new(8);
        let (a, b) = ([1; 16], [2; 16]);
        let mut nodes = sessions.get(&a).unwrap();
        snapshot(&mut nodes, "text");
        sessions.put(a, nodes).unwrap();
        assert_eq!(sessions.remembered(), 0, "nothing sensitive, nothing kept");

        let mut nodes = sessions.get(&b).unwrap();
        snapshot(&mut nodes, "password");
        sessions.put(b, nodes).unwrap();
        assert_eq!(sessions.remembered(), 1);
        assert!(!sessions.get(&b).unwrap().is_empty());

        // The next page has no sensitive input: the session is dropped rather than kept empty.
        let mut nodes = sessions.get(&b).unwrap();
        snapshot(&mut nodes, "search");
        sessions.put(b, nodes).unwrap();
        assert_eq!(sessions.remembered(), 0);
        assert!(sessions.get(&b).unwrap().is_empty());
    }

    #[test]
    fn at_most_the_configured_number_of_sessions_is_kept() {
        let sessions = ReplaySessions::new(4);
        for i in 0..50u8 {
            let mut nodes = sessions.get(&[i; 16]).unwrap();
            snapshot(&mut nodes, "password");
            sessions.put([i; 16], nodes).unwrap();
            assert!(sessions.remembered() <= 4);
        }
        assert!(!sessions.get(&[49; 16]).unwrap().is_empty(), "the newest session is kept");
        let off = ReplaySessions::new(0);
        let mut nodes = off.get(&[1; 16]).unwrap();
        snapshot(&mut nodes, "password");
        off.put([1; 16], nodes).unwrap();
        assert_eq!(off.remembered(), 0);
    }

    #[test]
    fn a_poisoned_record_fails_closed_instead_of_forgetting_sensitive_inputs() {
        let sessions = std::sync::Arc::new(ReplaySessions::new(8));
        let mut nodes = ReplayNodes::default();
        snapshot(&mut nodes, "password");
        sessions.put([7; 16], nodes).unwrap();
        let holder = sessions.clone();
        let panicked = std::thread::spawn(move || {
            let _held = holder.inner.lock().unwrap();
            panic!("a bug while the record is held");
        })
        .join();
        assert!(panicked.is_err());
        assert!(sessions.get(&[7; 16]).is_err(), "a poisoned record must not read as a session without inputs");
        assert!(sessions.put([7; 16], ReplayNodes::default()).is_err());
    }
}
