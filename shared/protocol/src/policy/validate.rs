//! Reading and checking a policy: TOML or JSON with unknown fields refused, every bound checked with the path of
//! each problem, the local floor applied, the canonical hash.

use super::*;

/// One problem in a policy document, with the path of its field (`pii.custom_patterns[0].regex`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl PolicyErrors {
    fn one(path: impl Into<String>, message: impl Into<String>) -> PolicyErrors {
        PolicyErrors(vec![PolicyError { path: path.into(), message: message.into() }])
    }
}

impl fmt::Display for PolicyErrors {
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

impl std::error::Error for PolicyErrors {}

/// How a policy document is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Toml,
    Json,
}

impl Format {
    /// JSON when the document's first non-blank character is `{`, TOML otherwise.
    pub fn detect(text: &str) -> Format {
        if text.trim_start().starts_with('{') {
            Format::Json
        } else {
            Format::Toml
        }
    }
}

impl Policy {
    /// Parses and validates a document. Syntax errors, unknown fields and wrong types are reported with the
    /// path of the field; then every bound is checked ([`Policy::validate`]).
    pub fn parse(text: &str, format: Format) -> Result<Policy, PolicyErrors> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(PolicyErrors::one("", format!("the document is over {MAX_DOCUMENT_BYTES} bytes")));
        }
        let policy: Policy = match format {
            Format::Json => {
                let mut deserializer = serde_json::Deserializer::from_str(text);
                serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
                    let path = clean_path(&e.path().to_string());
                    PolicyErrors::one(path, e.into_inner().to_string())
                })?
            }
            Format::Toml => {
                let deserializer = toml::Deserializer::new(text);
                serde_path_to_error::deserialize(deserializer).map_err(|e| {
                    let path = clean_path(&e.path().to_string());
                    let message = e.into_inner().message().to_string();
                    PolicyErrors::one(path, message)
                })?
            }
        };
        policy.validate()?;
        Ok(policy)
    }

    /// Checks every bound, name and regex; returns all problems with their field paths.
    pub fn validate(&self) -> Result<(), PolicyErrors> {
        let mut errors = Vec::new();
        let mut err = |path: &str, message: String| errors.push(PolicyError { path: path.to_string(), message });
        if let Err(pii) = self.pii.validate() {
            for e in pii.0 {
                err(&format!("pii.{}", e.path), e.kind.to_string());
            }
        }
        let rate = self.sampling.session_rate;
        if !(0.0..=1.0).contains(&rate) {
            err("sampling.session_rate", format!("{rate} is out of range: use 0.0 to 1.0"));
        }
        check_rate_limit("rate_limit", &self.rate_limit, &mut err);
        if self.projects.len() > MAX_PROJECTS {
            err("projects", format!("more than {MAX_PROJECTS} projects"));
        }
        let (mut names, mut keys) = (BTreeSet::new(), BTreeSet::new());
        for (i, project) in self.projects.iter().enumerate() {
            let at = |field: &str| format!("projects[{i}].{field}");
            if !is_project_name(&project.name) {
                err(&at("name"), format!("`{}` is not a valid name: 1 to 64 of [A-Za-z0-9._-]", project.name));
            } else if !names.insert(project.name.as_str()) {
                err(&at("name"), format!("project `{}` is listed twice", project.name));
            }
            let key = &project.key_sha256;
            if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                err(&at("key_sha256"), "must be a SHA-256 in 64 lowercase hex digits".into());
            } else if !keys.insert(key.as_str()) {
                err(&at("key_sha256"), "this key is already used by another project".into());
            }
            if let Some(limit) = &project.rate_limit {
                check_rate_limit(&at("rate_limit"), limit, &mut err);
            }
        }
        if let Some(budget) = self.buffer.disk_budget_bytes {
            if budget < MIN_DISK_BUDGET_BYTES {
                err("buffer.disk_budget_bytes", format!("{budget} is below the minimum of {MIN_DISK_BUDGET_BYTES}"));
            }
        }
        if self.buffer.retention_hours > MAX_RETENTION_HOURS {
            err("buffer.retention_hours", format!("more than {MAX_RETENTION_HOURS} hours (90 days)"));
        }
        if let Some(level) = self.upload.zstd_level {
            if !(1..=19).contains(&level) {
                err("upload.zstd_level", format!("{level} is out of range: use 1 to 19"));
            }
        }
        if !(10..=60_000).contains(&self.upload.interval_ms) {
            err("upload.interval_ms", format!("{} is out of range: use 10 to 60000", self.upload.interval_ms));
        }
        self.check_compliance(&mut err);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PolicyErrors(errors))
        }
    }

    fn check_compliance(&self, err: &mut impl FnMut(&str, String)) {
        let profile = self.compliance;
        if profile == Compliance::None {
            return;
        }
        let name = serde_json::to_value(profile).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        if self.pii.default_action == Action::Allow {
            err("pii.default_action", format!("`allow` is not permitted by the `{name}` compliance profile"));
        }
        if !self.pii.builtin_fields {
            err("pii.builtin_fields", format!("must be true under the `{name}` compliance profile"));
        }
        for entity in profile.protected_entities() {
            if self.pii.entities.get(*entity) == Some(&Action::Allow) {
                err(
                    &format!("pii.entities.{entity}"),
                    format!("`allow` is not permitted for {entity} by the `{name}` compliance profile"),
                );
            }
        }
        for (key, rule) in &self.pii.fields {
            let entity = rule.entity.as_deref();
            let protected = entity.is_some_and(|e| profile.protected_entities().contains(&e));
            if rule.action == Some(Action::Allow) && (protected || entity.is_none()) {
                err(
                    &format!("pii.fields.{key}.action"),
                    format!("`allow` is not permitted by the `{name}` compliance profile"),
                );
            }
        }
    }

    /// The canonical form: compact JSON with fields in declaration order and maps sorted. Two documents that
    /// mean the same policy (whatever their format, order, comments or omitted defaults) have the same form.
    pub fn canonical(&self) -> String {
        // Serializing plain data into memory cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `sha256:` and the hex SHA-256 of the canonical form.
    pub fn hash(&self) -> String {
        sha256_hex(self.canonical().as_bytes())
    }

    /// The policy after a runner's local floor: actions below the floor are raised to it and the sampling rate
    /// is raised to what the floor lets be dropped. Returns the policy and the paths that were changed.
    pub fn with_floor(&self, floor: &Floor) -> (Policy, Vec<String>) {
        let mut policy = self.clone();
        let mut raised = Vec::new();
        let min = floor.min_pii_action;
        let mut raise = |action: &mut Action, path: String| {
            if strength(*action) < strength(min) {
                *action = min;
                raised.push(path);
            }
        };
        let pii = &mut policy.pii;
        raise(&mut pii.default_action, "pii.default_action".into());
        for (name, action) in pii.entities.iter_mut() {
            raise(action, format!("pii.entities.{name}"));
        }
        for (key, rule) in pii.fields.iter_mut() {
            if let Some(action) = rule.action.as_mut() {
                raise(action, format!("pii.fields.{key}.action"));
            }
        }
        for (i, pattern) in pii.custom_patterns.iter_mut().enumerate() {
            if let Some(action) = pattern.action.as_mut() {
                raise(action, format!("pii.custom_patterns[{i}].action"));
            }
        }
        for (i, dictionary) in pii.dictionaries.iter_mut().enumerate() {
            if let Some(action) = dictionary.action.as_mut() {
                raise(action, format!("pii.dictionaries[{i}].action"));
            }
        }
        if strength(min) > strength(Action::Allow) && !pii.builtin_fields {
            pii.builtin_fields = true;
            raised.push("pii.builtin_fields".into());
        }
        let lowest_rate = (1.0 - floor.max_sampling_drop).clamp(0.0, 1.0);
        if policy.sampling.session_rate < lowest_rate {
            policy.sampling.session_rate = lowest_rate;
            raised.push("sampling.session_rate".into());
        }
        (policy, raised)
    }
}

fn check_rate_limit(path: &str, limit: &RateLimit, err: &mut impl FnMut(&str, String)) {
    for (field, value) in [("events_per_second", limit.events_per_second), ("burst", limit.burst)] {
        if value > MAX_EVENTS_PER_SECOND {
            err(&format!("{path}.{field}"), format!("{value} is over the maximum of {MAX_EVENTS_PER_SECOND}"));
        }
    }
    if limit.burst > 0 && limit.events_per_second == 0 {
        err(&format!("{path}.burst"), "a burst needs `events_per_second` above 0".into());
    }
}

/// `serde_path_to_error` writes `.` for the root and `?` for unknown positions; keep only real paths.
fn clean_path(path: &str) -> String {
    if path == "." || path == "?" {
        String::new()
    } else {
        path.to_string()
    }
}
