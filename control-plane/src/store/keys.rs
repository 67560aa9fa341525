//! Key encoding for the ordered trees. Each text component is written as a u16 big-endian length plus its bytes,
//! so a prefix of components never matches a longer component (`s1` is not a prefix of `s10`), and numbers are
//! big-endian so key order is numeric order.

/// Longest text component a key may hold (tenant, project, session id, runner id).
pub const MAX_COMPONENT: usize = 1024;

fn push(out: &mut Vec<u8>, component: &str) {
    let bytes = &component.as_bytes()[..component.len().min(MAX_COMPONENT)];
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// All parts of all batches of one session.
pub fn batch_prefix(tenant: &str, project: &str, session: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + tenant.len() + project.len() + session.len() + 10);
    push(&mut out, tenant);
    push(&mut out, project);
    push(&mut out, session);
    out
}

pub fn batch_key(tenant: &str, project: &str, session: &str, seq: u64, part: u16) -> Vec<u8> {
    let mut out = batch_prefix(tenant, project, session);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&part.to_be_bytes());
    out
}

/// `(seq, part)` of a batch key, given the length of its session prefix.
pub fn batch_suffix(key: &[u8], prefix_len: usize) -> Option<(u64, u16)> {
    let rest = key.get(prefix_len..)?;
    if rest.len() != 10 {
        return None;
    }
    let seq = u64::from_be_bytes(rest[..8].try_into().ok()?);
    let part = u16::from_be_bytes(rest[8..].try_into().ok()?);
    Some((seq, part))
}

/// Every project's summary of a session id.
pub fn session_prefix(tenant: &str, session: &str) -> Vec<u8> {
    let mut out = Vec::new();
    push(&mut out, tenant);
    push(&mut out, session);
    out
}

pub fn session_key(tenant: &str, session: &str, project: &str) -> Vec<u8> {
    let mut out = session_prefix(tenant, session);
    push(&mut out, project);
    out
}

/// The project of a session key, given the length of its session prefix.
pub fn session_project(key: &[u8], prefix_len: usize) -> Option<String> {
    let mut reader = Reader(key.get(prefix_len..)?);
    let project = reader.text()?;
    reader.0.is_empty().then_some(project)
}

/// Newest-first listing of a tenant's sessions: `scope` is a project, or "" for all projects.
pub fn recent_prefix(tenant: &str, scope: &str) -> Vec<u8> {
    let mut out = Vec::new();
    push(&mut out, tenant);
    push(&mut out, scope);
    out
}

pub fn recent_key(tenant: &str, scope: &str, last_received_ms: u64, project: &str, session: &str) -> Vec<u8> {
    let mut out = recent_prefix(tenant, scope);
    out.extend_from_slice(&(u64::MAX - last_received_ms).to_be_bytes());
    push(&mut out, project);
    push(&mut out, session);
    out
}

/// `(project, session)` of a listing key, given the length of its prefix.
pub fn recent_entry(key: &[u8], prefix_len: usize) -> Option<(String, String)> {
    let mut reader = Reader(key.get(prefix_len..)?.get(8..)?);
    let project = reader.text()?;
    let session = reader.text()?;
    reader.0.is_empty().then_some((project, session))
}

/// All revisions of one runner group's policy.
pub fn policy_prefix(tenant: &str, group: &str) -> Vec<u8> {
    let mut out = Vec::new();
    push(&mut out, tenant);
    push(&mut out, group);
    out
}

pub fn policy_key(tenant: &str, group: &str, revision: u64) -> Vec<u8> {
    let mut out = policy_prefix(tenant, group);
    out.extend_from_slice(&revision.to_be_bytes());
    out
}

/// The revision of a policy key, given the length of its group prefix.
pub fn policy_revision(key: &[u8], prefix_len: usize) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(prefix_len..)?.try_into().ok()?))
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn text(&mut self) -> Option<String> {
        let len = usize::from(u16::from_be_bytes(self.0.get(..2)?.try_into().ok()?));
        let text = std::str::from_utf8(self.0.get(2..2 + len)?).ok()?.to_string();
        self.0 = &self.0[2 + len..];
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_do_not_run_into_each_other() {
        assert!(!batch_key("t", "p", "s10", 1, 0).starts_with(&batch_prefix("t", "p", "s1")));
        assert!(batch_key("t", "p", "s1", 1, 0).starts_with(&batch_prefix("t", "p", "s1")));
        let prefix = batch_prefix("t", "p", "s");
        assert_eq!(batch_suffix(&batch_key("t", "p", "s", 7, 3), prefix.len()), Some((7, 3)));
        assert!(batch_key("t", "p", "s", 2, 0) < batch_key("t", "p", "s", 10, 0));
        let prefix = session_prefix("t", "s");
        assert_eq!(session_project(&session_key("t", "s", "proj"), prefix.len()).as_deref(), Some("proj"));
        assert!(!session_key("t", "s1", "p").starts_with(&session_prefix("t", "s")));
    }

    #[test]
    fn recent_keys_sort_newest_first() {
        let older = recent_key("t", "", 100, "p", "a");
        let newer = recent_key("t", "", 200, "p", "b");
        assert!(newer < older);
        let prefix = recent_prefix("t", "");
        assert_eq!(recent_entry(&newer, prefix.len()), Some(("p".into(), "b".into())));
        assert!(!recent_key("t", "p", 1, "p", "a").starts_with(&prefix));
        assert_eq!(recent_entry(b"\0", 0), None);
    }

    #[test]
    fn policy_keys_sort_by_revision_within_their_group() {
        assert!(policy_key("t", "g", 2) < policy_key("t", "g", 10));
        assert!(!policy_key("t", "g10", 1).starts_with(&policy_prefix("t", "g1")));
        let prefix = policy_prefix("t", "g");
        assert_eq!(policy_revision(&policy_key("t", "g", 7), prefix.len()), Some(7));
        assert_eq!(policy_revision(&prefix, prefix.len()), None);
    }
}
