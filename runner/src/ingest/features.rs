//! Feature switches of the policy: kinds of data that are not collected at all are dropped here, before PII
//! scanning, and counted as filtered. With every feature on (the default) batches pass untouched and unparsed.
//!
//! - `replay = false`: the batch's `replay` array is removed.
//! - `network_capture = false`: `network` events and rrweb network plugin events are removed.
//! - `console_logs = false`: rrweb console plugin events (`{"type":6,"data":{"plugin":"rrweb/console@1"}}`)
//!   are removed.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use traceflow_protocol::policy::Features;

/// A batch with some of its contents dropped.
#[derive(Debug, PartialEq, Eq)]
pub struct Filtered {
    pub json: Vec<u8>,
    /// Analytics events plus replay events removed.
    pub dropped: usize,
    /// Of those, replay events.
    pub dropped_replay: usize,
    /// Whether nothing at all is left to store.
    pub empty: bool,
}

#[derive(Deserialize)]
struct EventKind<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<&'a str>,
}

#[derive(Deserialize)]
struct ReplayKind<'a> {
    #[serde(rename = "type")]
    kind: Option<u64>,
    #[serde(borrow)]
    data: Option<PluginData<'a>>,
}

#[derive(Deserialize)]
struct PluginData<'a> {
    #[serde(borrow)]
    plugin: Option<&'a str>,
}

/// rrweb's `EventType.Plugin`.
const RRWEB_PLUGIN: u64 = 6;

/// Applies `features` to a validated batch; `None` when nothing needs to change.
pub fn apply(json: &[u8], features: &Features) -> Result<Option<Filtered>, serde_json::Error> {
    if features.replay && features.console_logs && features.network_capture {
        return Ok(None);
    }
    let mut batch: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(json)?;
    let mut dropped = 0usize;
    let mut dropped_replay = 0usize;
    let (mut events_left, mut replay_left) = (0usize, 0usize);
    if let Some(events) = batch.get("events") {
        let items: Vec<&RawValue> = serde_json::from_str(events.get())?;
        let before = items.len();
        let kept: Vec<&RawValue> = items
            .into_iter()
            .filter(|item| {
                features.network_capture
                    || serde_json::from_str::<EventKind>(item.get()).map_or(true, |e| e.kind != Some("network"))
            })
            .collect();
        dropped += before - kept.len();
        events_left = kept.len();
        if kept.len() != before {
            let text = serde_json::to_string(&kept)?;
            batch.insert("events".into(), RawValue::from_string(text)?);
        }
    }
    if let Some(replay) = batch.get("replay") {
        let items: Vec<&RawValue> = serde_json::from_str(replay.get())?;
        if !features.replay {
            dropped_replay = items.len();
            dropped += items.len();
            batch.remove("replay");
        } else {
            let before = items.len();
            let kept: Vec<&RawValue> = items.into_iter().filter(|item| keep_replay_event(item, features)).collect();
            dropped_replay = before - kept.len();
            dropped += dropped_replay;
            replay_left = kept.len();
            if kept.len() != before {
                let text = serde_json::to_string(&kept)?;
                batch.insert("replay".into(), RawValue::from_string(text)?);
            }
        }
    }
    if dropped == 0 {
        return Ok(None);
    }
    let json = serde_json::to_vec(&batch)?;
    Ok(Some(Filtered { json, dropped, dropped_replay, empty: events_left == 0 && replay_left == 0 }))
}

fn keep_replay_event(item: &RawValue, features: &Features) -> bool {
    let Ok(event) = serde_json::from_str::<ReplayKind>(item.get()) else { return true };
    if event.kind != Some(RRWEB_PLUGIN) {
        return true;
    }
    let plugin = event.data.and_then(|d| d.plugin).unwrap_or_default().to_ascii_lowercase();
    let dropped_console = !features.console_logs && plugin.contains("console");
    let dropped_network = !features.network_capture && plugin.contains("network");
    !dropped_console && !dropped_network
}

#[cfg(test)]
mod tests {
    use super::*;

    const BATCH: &str = r#"{"session_id":"s","seq":1,"events":[{"type":"click","ts":1},{"type":"network","ts":2,"url":"/api"}],"replay":[{"type":2,"data":{},"timestamp":1},{"type":6,"data":{"plugin":"rrweb/console@1","payload":{"level":"log"}},"timestamp":2},{"type":6,"data":{"plugin":"rrweb/network@1","payload":{}},"timestamp":3}]}"#;

    fn with(replay: bool, console_logs: bool, network_capture: bool) -> Option<Filtered> {
        apply(BATCH.as_bytes(), &Features { replay, console_logs, network_capture }).unwrap()
    }

    #[test]
    fn everything_on_changes_nothing() {
        assert_eq!(with(true, true, true), None);
    }

    #[test]
    fn replay_off_drops_the_replay_array() {
        let out = with(false, true, true).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out.json).unwrap();
        assert!(value.get("replay").is_none());
        assert_eq!(value["events"].as_array().unwrap().len(), 2);
        assert_eq!((out.dropped, out.dropped_replay, out.empty), (3, 3, false));
    }

    #[test]
    fn console_and_network_off_drop_their_events_only() {
        let out = with(true, false, false).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out.json).unwrap();
        assert_eq!(value["events"], serde_json::json!([{"type":"click","ts":1}]));
        assert_eq!(value["replay"], serde_json::json!([{"type":2,"data":{},"timestamp":1}]));
        assert_eq!((out.dropped, out.empty), (3, false));
        let console_only = with(true, false, true).unwrap();
        assert_eq!(console_only.dropped, 1);
    }

    #[test]
    fn a_batch_with_nothing_left_is_empty() {
        let batch = r#"{"session_id":"s","seq":1,"replay":[{"type":2,"data":{},"timestamp":1}]}"#;
        let out = apply(batch.as_bytes(), &Features { replay: false, ..Features::default() }).unwrap().unwrap();
        assert_eq!((out.dropped, out.empty), (1, true));
    }
}
