//! What an operator (or a signed policy) says about PII: which action per entity and per field, plus custom
//! patterns and dictionaries. The type is plain data with serde; [`PiiConfig::validate`] checks every bound and
//! compiles every regex, reporting each problem with the path of the offending field.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Action, Entity};

/// Most custom patterns in one configuration.
pub const MAX_CUSTOM_PATTERNS: usize = 64;
/// Longest custom regex source, in bytes.
pub const MAX_REGEX_LEN: usize = 1024;
/// Compiled size limit for one custom regex (Thompson NFA bytes); larger patterns are rejected.
pub const MAX_REGEX_NFA_BYTES: usize = 256 * 1024;
/// Most dictionaries in one configuration.
pub const MAX_DICTIONARIES: usize = 32;
/// Most words over all dictionaries.
pub const MAX_DICTIONARY_WORDS: usize = 100_000;
/// Longest dictionary word or context word, in bytes.
pub(crate) const MAX_WORD_LEN: usize = 64;
/// Most field rules.
pub(crate) const MAX_FIELD_RULES: usize = 512;
/// Most context words of one custom pattern.
pub(crate) const MAX_CONTEXT_WORDS: usize = 32;
/// Longest entity, pattern or dictionary name.
pub(crate) const MAX_NAME_LEN: usize = 32;

/// PII handling settings. Every field has a default; unknown fields are errors.
///
/// ```toml
/// default_action = "tokenize"
/// entities = { card = "mask", ip = "allow" }
/// fields = { loyaltyno = { entity = "account" }, comment = { action = "redact" } }
/// custom_patterns = [{ name = "employee_id", regex = "EMP-[0-9]{6}", context = ["employee"] }]
/// dictionaries = [{ name = "projects", entity = "codename", words = ["Bluebird", "Nightjar"] }]
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PiiConfig {
    /// Action for detected entities that `entities` does not name. Default: `tokenize`.
    pub default_action: Action,
    /// Action per entity name (`email = "tokenize"`, `card = "mask"`). `allow` turns free-text detection of that
    /// entity off. Default: empty (every entity takes `default_action`).
    pub entities: BTreeMap<String, Action>,
    /// Whether the built-in field-name rules apply (`password` → secret, `email`, `phone`, `card`, `dob`, …).
    /// Default: true.
    pub builtin_fields: bool,
    /// Field rules by normalized key (lowercase, without `_`, `-`, `.` and spaces: `cardNumber` → `cardnumber`).
    /// They take precedence over the built-in rules. Default: empty.
    pub fields: BTreeMap<String, FieldRule>,
    /// Extra regexes, run in the same pass as the built-in patterns and taking precedence over them.
    /// Default: empty.
    pub custom_patterns: Vec<CustomPattern>,
    /// Word lists (names of projects, customers, …) matched as whole words. Default: empty.
    pub dictionaries: Vec<Dictionary>,
    /// How much evidence a number needs. `balanced` (default): a card needs Luhn and an issuer prefix, a card
    /// layout or card words nearby; ambiguous numbers need context. `strict`: any Luhn-valid run of 12–19 digits is
    /// a card, for users who prefer a tokenized order id over a leaked card.
    pub strictness: Strictness,
}

/// See [`PiiConfig::strictness`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Strictness {
    #[default]
    Balanced,
    Strict,
}

impl Default for PiiConfig {
    fn default() -> Self {
        PiiConfig {
            default_action: Action::Tokenize,
            entities: BTreeMap::new(),
            builtin_fields: true,
            fields: BTreeMap::new(),
            custom_patterns: Vec::new(),
            dictionaries: Vec::new(),
            strictness: Strictness::Balanced,
        }
    }
}

/// What to do with the value of a field.
///
/// - `entity` set: the whole value is that entity and gets `action` (or the entity's action).
/// - no `entity`, `action = "allow"`: the field is not scanned at all.
/// - no `entity`, another action: the field is scanned as free text and whatever is found gets `action`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FieldRule {
    /// Entity of the whole value. Default: none.
    pub entity: Option<String>,
    /// Action overriding the entity's action. Default: none.
    pub action: Option<Action>,
}

/// A regex for an organisation's own identifiers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CustomPattern {
    /// Name of the pattern (snake_case); also the entity name unless `entity` is set.
    pub name: String,
    /// The regex (Rust `regex` syntax; prefer ASCII classes such as `[0-9]` and `(?-u:\b)` for speed).
    pub regex: String,
    /// Entity the matches belong to. Default: `name`.
    pub entity: Option<String>,
    /// Action overriding the entity's action for these matches. Default: none.
    pub action: Option<Action>,
    /// If not empty, a match counts only when one of these words (case-insensitive, whole word) is within
    /// 48 bytes before or 24 bytes after it. Default: empty.
    pub context: Vec<String>,
}

/// A list of words that are an entity wherever they occur as whole words.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Dictionary {
    /// Name of the dictionary (snake_case), for error messages and audits.
    pub name: String,
    /// Entity the words belong to: a built-in entity or a new snake_case name.
    pub entity: String,
    /// The words (or phrases).
    pub words: Vec<String>,
    /// Action overriding the entity's action for these words. Default: none.
    pub action: Option<Action>,
    /// Whether matching is case-sensitive. Default: false (ASCII case-insensitive).
    pub case_sensitive: bool,
}

/// One problem in a [`PiiConfig`], with the path of the field (`custom_patterns[2].regex`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct ConfigError {
    pub path: String,
    pub kind: ConfigErrorKind,
}

/// What is wrong with a configuration field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigErrorKind {
    #[error("regex does not compile: {0}")]
    Regex(String),
    #[error("regex is larger than the compiled size limit of {0} bytes")]
    RegexTooBig(usize),
    #[error("regex matches the empty string")]
    RegexMatchesEmpty,
    #[error("regex scans too slowly: {0}")]
    RegexTooSlow(String),
    #[error("unknown entity `{0}`")]
    UnknownEntity(String),
    #[error("`{0}` is not a valid name (a lowercase ASCII letter, then lowercase letters, digits or `_`; at most 32)")]
    BadName(String),
    #[error("`{0}` is not a normalized field name (lowercase ASCII letters and digits only)")]
    BadFieldName(String),
    #[error("must not be empty")]
    Empty,
    #[error("more than {0} entries")]
    TooMany(usize),
    #[error("longer than {0} bytes")]
    TooLong(usize),
    #[error("`{0}` is declared twice")]
    Duplicate(String),
    #[error("a field rule needs an entity or an action")]
    EmptyRule,
}

/// Every problem found in a [`PiiConfig`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Whether `name` is a valid entity, pattern or dictionary name.
pub(crate) fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_NAME_LEN
        && b[0].is_ascii_lowercase()
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

impl PiiConfig {
    /// Checks every bound, name and regex. Returns all problems, each with its field path.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = Vec::new();
        let mut err = |path: String, kind: ConfigErrorKind| errors.push(ConfigError { path, kind });

        // Entities declared by this configuration, on top of the built-in ones.
        let mut declared: BTreeSet<&str> = BTreeSet::new();
        if self.custom_patterns.len() > MAX_CUSTOM_PATTERNS {
            err("custom_patterns".into(), ConfigErrorKind::TooMany(MAX_CUSTOM_PATTERNS));
        }
        let mut pattern_names = BTreeSet::new();
        for (i, p) in self.custom_patterns.iter().enumerate() {
            let at = |field: &str| format!("custom_patterns[{i}].{field}");
            if !valid_name(&p.name) {
                err(at("name"), ConfigErrorKind::BadName(p.name.clone()));
            } else if !pattern_names.insert(p.name.as_str()) {
                err(at("name"), ConfigErrorKind::Duplicate(p.name.clone()));
            }
            match &p.entity {
                Some(entity) if !valid_name(entity) => err(at("entity"), ConfigErrorKind::BadName(entity.clone())),
                Some(entity) => {
                    declared.insert(entity);
                }
                None => {
                    declared.insert(&p.name);
                }
            }
            if let Err(kind) = check_regex(&p.regex) {
                err(at("regex"), kind);
            }
            if p.context.len() > MAX_CONTEXT_WORDS {
                err(at("context"), ConfigErrorKind::TooMany(MAX_CONTEXT_WORDS));
            }
            for (j, word) in p.context.iter().enumerate() {
                check_word(word, format!("custom_patterns[{i}].context[{j}]"), &mut err);
            }
        }

        if self.dictionaries.len() > MAX_DICTIONARIES {
            err("dictionaries".into(), ConfigErrorKind::TooMany(MAX_DICTIONARIES));
        }
        let mut dictionary_names = BTreeSet::new();
        let mut words = 0usize;
        for (i, d) in self.dictionaries.iter().enumerate() {
            let at = |field: &str| format!("dictionaries[{i}].{field}");
            if !valid_name(&d.name) {
                err(at("name"), ConfigErrorKind::BadName(d.name.clone()));
            } else if !dictionary_names.insert(d.name.as_str()) {
                err(at("name"), ConfigErrorKind::Duplicate(d.name.clone()));
            }
            if valid_name(&d.entity) {
                declared.insert(&d.entity);
            } else {
                err(at("entity"), ConfigErrorKind::BadName(d.entity.clone()));
            }
            if d.words.is_empty() {
                err(at("words"), ConfigErrorKind::Empty);
            }
            words += d.words.len();
            for (j, word) in d.words.iter().enumerate() {
                check_word(word, format!("dictionaries[{i}].words[{j}]"), &mut err);
            }
        }
        if words > MAX_DICTIONARY_WORDS {
            err("dictionaries".into(), ConfigErrorKind::TooMany(MAX_DICTIONARY_WORDS));
        }

        let known = |name: &str| Entity::from_builtin_name(name).is_some() || declared.contains(name);
        for name in self.entities.keys() {
            if !known(name) {
                err(format!("entities.{name}"), ConfigErrorKind::UnknownEntity(name.clone()));
            }
        }
        if self.fields.len() > MAX_FIELD_RULES {
            err("fields".into(), ConfigErrorKind::TooMany(MAX_FIELD_RULES));
        }
        for (key, rule) in &self.fields {
            let valid_key = !key.is_empty()
                && key.len() <= MAX_WORD_LEN
                && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !valid_key {
                err(format!("fields.{key}"), ConfigErrorKind::BadFieldName(key.clone()));
            }
            match (&rule.entity, rule.action) {
                (None, None) => err(format!("fields.{key}"), ConfigErrorKind::EmptyRule),
                (Some(entity), _) if !known(entity) => {
                    err(format!("fields.{key}.entity"), ConfigErrorKind::UnknownEntity(entity.clone()))
                }
                _ => {}
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

fn check_word(word: &str, path: String, err: &mut impl FnMut(String, ConfigErrorKind)) {
    if word.trim().is_empty() {
        err(path, ConfigErrorKind::Empty);
    } else if word.len() > MAX_WORD_LEN {
        err(path, ConfigErrorKind::TooLong(MAX_WORD_LEN));
    }
}

/// Compiles one custom regex alone, with the size limit, and rejects patterns that can match nothing at all.
pub(crate) fn check_regex(pattern: &str) -> Result<(), ConfigErrorKind> {
    use regex_automata::meta;
    if pattern.is_empty() {
        return Err(ConfigErrorKind::Empty);
    }
    if pattern.len() > MAX_REGEX_LEN {
        return Err(ConfigErrorKind::TooLong(MAX_REGEX_LEN));
    }
    let config = meta::Config::new().nfa_size_limit(Some(MAX_REGEX_NFA_BYTES));
    let regex = meta::Regex::builder().configure(config).build(pattern).map_err(|e| match e.size_limit() {
        Some(limit) => ConfigErrorKind::RegexTooBig(limit),
        None => ConfigErrorKind::Regex(match e.syntax_error() {
            // The syntax error's text points at the offending part of the pattern; keep it on one line.
            Some(syntax) => syntax.to_string().lines().map(str::trim_end).collect::<Vec<_>>().join(" | "),
            None => e.to_string(),
        }),
    })?;
    let hir = regex_automata::util::syntax::parse(pattern).map_err(|e| ConfigErrorKind::Regex(e.to_string()))?;
    if hir.properties().minimum_len() == Some(0) || regex.find("").is_some() {
        return Err(ConfigErrorKind::RegexMatchesEmpty);
    }
    check_speed(pattern)
}

/// Bytes of the sample text [`check_speed`] scans.
const SPEED_SAMPLE_BYTES: usize = 192 * 1024;

/// Rejects patterns the scanner could only run slowly: the pattern is run by a lazy DFA (the engine the scanner
/// relies on) over a fixed sample of text, with a small cache that may be cleared only a few times. Patterns
/// whose DFA keeps growing new states (`(a|b)*a(a|b){20}`, huge alternations of counted repetitions) or that
/// need Unicode word boundaries on non-ASCII text (the DFA gives up and a much slower engine takes over) fail.
/// Deterministic: no clock, the same answer on every machine.
fn check_speed(pattern: &str) -> Result<(), ConfigErrorKind> {
    use regex_automata::hybrid::dfa::DFA;
    use regex_automata::{nfa::thompson, Input, MatchErrorKind};
    let config =
        DFA::config().cache_capacity(256 << 10).minimum_cache_clear_count(Some(4)).minimum_bytes_per_state(Some(16));
    let dfa = DFA::builder()
        .configure(config)
        .thompson(thompson::Config::new().nfa_size_limit(Some(MAX_REGEX_NFA_BYTES)))
        .build(pattern)
        .map_err(|e| {
            ConfigErrorKind::RegexTooSlow(if e.to_string().contains("Unicode word boundar") {
                "it uses Unicode word boundaries (\\b); use ASCII ones: (?-u:\\b)".to_string()
            } else {
                format!("no lazy DFA: {e}")
            })
        })?;
    let mut cache = dfa.create_cache();
    let sample = speed_sample();
    let mut at = 0;
    while at < sample.len() {
        let input = Input::new(&sample[..]).range(at..);
        match dfa.try_search_fwd(&mut cache, &input) {
            Ok(Some(found)) => at = found.offset().max(at) + 1,
            Ok(None) => break,
            Err(e) => {
                let why = match e.kind() {
                    MatchErrorKind::GaveUp { .. } => "its automaton keeps growing on ordinary text".to_string(),
                    MatchErrorKind::Quit { .. } => {
                        "it needs Unicode word boundaries on non-ASCII text; use (?-u:\\b)".to_string()
                    }
                    _ => e.to_string(),
                };
                return Err(ConfigErrorKind::RegexTooSlow(why));
            }
        }
    }
    Ok(())
}

/// A fixed mix of what the scanner sees: mixed-case alphanumerics (the lazy DFA's worst case), digit runs,
/// two-letter alphabets (where counted repetitions explode), JSON with addresses, and non-ASCII words.
fn speed_sample() -> Vec<u8> {
    const SEGMENTS: [&[u8]; 5] = [
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        b"0123456789 -",
        b"ab",
        b"01",
        b"{}\":,. @-_/=&?",
    ];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(SPEED_SAMPLE_BYTES + 4096);
    let mut segment = 0usize;
    while out.len() < SPEED_SAMPLE_BYTES {
        let alphabet = SEGMENTS[segment % SEGMENTS.len()];
        for _ in 0..16 * 1024 {
            out.push(alphabet[(next() % alphabet.len() as u64) as usize]);
        }
        out.extend_from_slice(
            "{\"email\":\"jane.doe@example.com\",\"city\":\"Zürich\",\"note\":\"café déjà vu ünïcödé\"} ".as_bytes(),
        );
        segment += 1;
    }
    out
}
