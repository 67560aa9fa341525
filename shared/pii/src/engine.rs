//! The engine: a validated [`PiiConfig`] compiled into a detector, field rules and per-entity actions, with the
//! entry points for free text ([`Engine::scan_text`], [`Engine::scrub_text`]) and batches
//! ([`Engine::scrub_json`](super::Engine::scrub_json)).

use super::config::{ConfigError, ConfigErrorKind, ConfigErrors, PiiConfig};
use super::detect::{class_mask, CustomRule, Detector, Found, WordList};
use super::fields::{Cond, Fields, Treat};
use super::replace::{is_replacement, replacement};
use super::{Action, Detection, Entity, Tokens};

/// Compiled PII settings. Immutable and `Sync`: one engine serves every worker thread.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(super) detector: Detector,
    pub(super) fields: Fields,
    /// Action per entity: built-in entities by index, then custom entities.
    actions: Vec<Action>,
    custom_names: Vec<String>,
    /// Every action is `allow`: nothing can ever be replaced, so scrubbing would copy its input unchanged.
    replaces_nothing: bool,
    /// Unique per built engine (clones share it): what a thread's cached decisions about keys were made with.
    pub(super) id: u64,
}

/// What one scrub did: strings examined and values replaced per entity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScrubStats {
    /// String values examined (scanned as free text, or replaced whole by a field rule).
    pub strings_scanned: u64,
    /// Values replaced (any action but `allow`), per built-in entity, indexed by [`Entity::index`].
    pub replaced: [u64; Entity::BUILTIN_COUNT],
    /// Values replaced for entities declared by custom patterns and dictionaries.
    pub custom_replaced: u64,
}

impl ScrubStats {
    /// Values replaced for `entity` (custom entities are counted together).
    pub fn replaced_for(&self, entity: Entity) -> u64 {
        entity.index().map_or(self.custom_replaced, |i| self.replaced[i])
    }

    /// Values replaced in total.
    pub fn total_replaced(&self) -> u64 {
        self.replaced.iter().sum::<u64>() + self.custom_replaced
    }

    /// Adds another scrub's figures.
    pub fn add(&mut self, other: &ScrubStats) {
        self.strings_scanned += other.strings_scanned;
        for (a, b) in self.replaced.iter_mut().zip(other.replaced) {
            *a += b;
        }
        self.custom_replaced += other.custom_replaced;
    }

    pub(super) fn count(&mut self, entity: Entity) {
        match entity.index() {
            Some(i) => self.replaced[i] += 1,
            None => self.custom_replaced += 1,
        }
    }
}

impl Default for Engine {
    /// Every built-in entity and field rule, tokenized.
    fn default() -> Self {
        Engine::new(&PiiConfig::default()).expect("the default configuration is valid")
    }
}

impl Engine {
    /// Validates and compiles `config`.
    pub fn new(config: &PiiConfig) -> Result<Engine, ConfigErrors> {
        Engine::build(config, None)
    }

    /// Like [`Engine::new`], but detecting only `entities` (field rules and custom rules for other entities are
    /// dropped). For measuring one entity's cost, or for a policy that wants a few entities only.
    pub fn for_entities(config: &PiiConfig, entities: &[Entity]) -> Result<Engine, ConfigErrors> {
        Engine::build(config, Some(entities))
    }

    fn build(config: &PiiConfig, only: Option<&[Entity]>) -> Result<Engine, ConfigErrors> {
        config.validate()?;
        let mut custom_names: Vec<String> = Vec::new();
        let mut declare = |name: &str| {
            if Entity::from_builtin_name(name).is_none() && !custom_names.iter().any(|n| n == name) {
                custom_names.push(name.to_string());
            }
        };
        for p in &config.custom_patterns {
            declare(p.entity.as_deref().unwrap_or(&p.name));
        }
        for d in &config.dictionaries {
            declare(&d.entity);
        }
        let resolve = |name: &str| -> Entity {
            Entity::from_builtin_name(name).unwrap_or_else(|| {
                let i = custom_names.iter().position(|n| n == name).expect("validated entity names are declared");
                Entity::Custom(i as u16)
            })
        };
        let included = |entity: Entity| only.is_none_or(|set| set.contains(&entity));

        let mut actions = vec![config.default_action; Entity::BUILTIN_COUNT + custom_names.len()];
        for (name, &action) in &config.entities {
            actions[slot(resolve(name))] = action;
        }
        let action_of = |entity: Entity| actions[slot(entity)];

        let mut enabled = 0u32;
        for entity in Entity::BUILTIN {
            if included(entity) && action_of(entity) != Action::Allow {
                enabled |= entity.bit();
            }
        }
        let mut customs = Vec::new();
        for p in &config.custom_patterns {
            let entity = resolve(p.entity.as_deref().unwrap_or(&p.name));
            if included(entity) && p.action.unwrap_or(action_of(entity)) != Action::Allow {
                let context = p.context.iter().map(|w| w.trim().to_ascii_lowercase().into_bytes()).collect();
                customs.push(CustomRule { regex: p.regex.clone(), entity, action: p.action, context });
            }
        }
        let mut lists = Vec::new();
        for d in &config.dictionaries {
            let entity = resolve(&d.entity);
            if included(entity) && d.action.unwrap_or(action_of(entity)) != Action::Allow {
                lists.push(WordList { words: &d.words, entity, action: d.action, case_sensitive: d.case_sensitive });
            }
        }
        let field_entities = Entity::BUILTIN.into_iter().filter(|&e| included(e)).fold(0, |m, e| m | e.bit());
        let mut field_rules = Vec::new();
        for (key, rule) in &config.fields {
            let treat = match (&rule.entity, rule.action) {
                (Some(entity), action) => {
                    let entity = resolve(entity);
                    if !included(entity) {
                        continue;
                    }
                    Treat::Whole { entity, action, cond: Cond::Always }
                }
                (None, Some(Action::Allow)) => Treat::Skip,
                (None, action) => Treat::Scan { action },
            };
            field_rules.push((key.clone(), treat));
        }
        let fields = Fields::new(config.builtin_fields, field_entities, field_rules);
        let mut detector = Detector::new(enabled, customs, &lists).map_err(|e| {
            ConfigErrors(vec![ConfigError { path: "custom_patterns".into(), kind: ConfigErrorKind::Regex(e.0) }])
        })?;
        detector.strict = config.strictness == crate::Strictness::Strict;
        let replaces_nothing = actions.iter().all(|&a| a == Action::Allow)
            && config.custom_patterns.iter().all(|p| p.action.is_none_or(|a| a == Action::Allow))
            && config.dictionaries.iter().all(|d| d.action.is_none_or(|a| a == Action::Allow))
            && config.fields.values().all(|rule| rule.action.is_none_or(|a| a == Action::Allow));
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Engine { detector, fields, actions, custom_names, replaces_nothing, id })
    }

    /// Whether every action is `allow` (as with `default_action = "allow"` and no rule saying otherwise): the
    /// engine can then never change a value, and callers may skip scrubbing altogether.
    pub fn replaces_nothing(&self) -> bool {
        self.replaces_nothing
    }

    /// Name of an entity as it appears in tokens and policies.
    pub fn entity_name(&self, entity: Entity) -> &str {
        match entity {
            Entity::Custom(i) => self.custom_names.get(usize::from(i)).map_or("custom", String::as_str),
            builtin => builtin.builtin_name().unwrap_or("custom"),
        }
    }

    /// The entity with this name, built-in or declared by the configuration.
    pub fn entity(&self, name: &str) -> Option<Entity> {
        Entity::from_builtin_name(name)
            .or_else(|| self.custom_names.iter().position(|n| n == name).map(|i| Entity::Custom(i as u16)))
    }

    /// The configured action for an entity.
    pub fn action(&self, entity: Entity) -> Action {
        self.actions.get(slot(entity)).copied().unwrap_or(Action::Tokenize)
    }

    /// Finds PII in free text, in order, without overlaps.
    pub fn scan_text(&self, text: &str) -> Vec<Detection> {
        let mut found = Vec::new();
        let bytes = text.as_bytes();
        self.detector.find(bytes, class_mask(bytes), 0, &mut found);
        found
            .into_iter()
            .map(|f| Detection { entity: f.entity, start: f.start, end: f.end, confidence: f.confidence })
            .collect()
    }

    /// Replaces PII in free text by the configured actions, appending the result to `out`.
    pub fn scrub_text(&self, text: &str, tokens: &mut dyn Tokens, out: &mut String) -> ScrubStats {
        let mut stats = ScrubStats { strings_scanned: 1, ..ScrubStats::default() };
        let bytes = text.as_bytes();
        let mut found = Vec::new();
        self.detector.find(bytes, class_mask(bytes), 0, &mut found);
        let mut last = 0;
        for f in &found {
            let original = &text[f.start..f.end];
            if let Some(rep) = self.replace(f, None, original, tokens, &mut stats) {
                out.push_str(&text[last..f.start]);
                out.push_str(&rep);
                last = f.end;
            }
        }
        out.push_str(&text[last..]);
        stats
    }

    /// The replacement for one detection, counting it; `None` if it stays (allowed, or already a replacement).
    pub(super) fn replace(
        &self,
        f: &Found,
        field_action: Option<Action>,
        original: &str,
        tokens: &mut dyn Tokens,
        stats: &mut ScrubStats,
    ) -> Option<String> {
        if is_replacement(original.as_bytes()) {
            return None;
        }
        let action = field_action.or(f.action).unwrap_or_else(|| self.action(f.entity));
        let rep = replacement(self.entity_name(f.entity), action, original, tokens)?;
        stats.count(f.entity);
        Some(rep)
    }
}

fn slot(entity: Entity) -> usize {
    match entity {
        Entity::Custom(i) => Entity::BUILTIN_COUNT + usize::from(i),
        builtin => builtin.index().unwrap_or(0),
    }
}
