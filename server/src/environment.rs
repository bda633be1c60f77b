//! Configuration from the environment: an override for every setting of the config file, the
//! secrets, and the Postgres URL, so a deployment needs no secret in a file it ships or on a
//! command line (where `ps` shows it).
//!
//! - `MATCHWRIGHT__<TABLE>__<FIELD>`: one setting, its path split by double underscores and
//!   matched lower-cased: `MATCHWRIGHT__SERVER__TICK_INTERVAL_MS=50`,
//!   `MATCHWRIGHT__RATE_LIMITS__AUTH__PER_IP_PER_MINUTE=10`, and the matcher's tables at the
//!   top as in the file: `MATCHWRIGHT__LIMITS__MAX_PARTIES=5000`,
//!   `MATCHWRIGHT__QUEUES='[{ name = "ranked-5v5", acceptance = { timeout_ms = 15000 } }]'`.
//!   A setting whose default is a string takes the value as it is; any other takes it as a
//!   TOML value (integer, float, boolean, array, inline table) of the setting's type. The
//!   overrides go into the file's TOML (a table the file leaves out starts from its
//!   defaults), and the result is checked like a file, so every rule of the file applies. A
//!   variable that names no setting, or a value of the wrong type, is an error naming the
//!   variable.
//! - `MATCHWRIGHT_JWT_SECRET`, `MATCHWRIGHT_SESSION_SECRET`, `MATCHWRIGHT_GAME_SERVER_KEY`:
//!   the `[server]` secrets, or `..._FILE` with the path of a file holding one (one trailing
//!   line break is dropped). Both forms of one secret, or a file that cannot be read, is an
//!   error. `MATCHWRIGHT_OPERATOR_KEYS` (or `..._FILE`) is a list: `server.operator_keys`,
//!   the keys separated by commas or line breaks.
//! - `MATCHWRIGHT_POSTGRES_URL` or `MATCHWRIGHT_POSTGRES_URL_FILE`: the Postgres mirror, like
//!   `serve --postgres` and `--postgres-file`; two of the four at once is an error.
//!
//! The environment is an input ([`Environment::capture`] takes the variables), so none of
//! this reads the process's environment itself.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::Path;

use matchwright_ecs::ConfigError;
use serde_json::Value as Json;

use crate::settings::{SERVER_KEYS, Settings, SettingsError};

/// Every variable read starts with this.
pub const PREFIX: &str = "MATCHWRIGHT_";
/// A setting's override starts with this.
pub const OVERRIDE_PREFIX: &str = "MATCHWRIGHT__";
/// What separates a setting's path segments in its variable's name.
pub const SEPARATOR: &str = "__";
/// The variable naming a file to read a secret from is the secret's variable and this.
pub const FILE_SUFFIX: &str = "_FILE";
/// The secrets: their variables and their `[server]` fields.
pub const SECRET_VARIABLES: &[(&str, &str)] = &[
    ("MATCHWRIGHT_JWT_SECRET", "jwt_secret"),
    ("MATCHWRIGHT_SESSION_SECRET", "session_secret"),
    ("MATCHWRIGHT_GAME_SERVER_KEY", "game_server_key"),
    (
        "MATCHWRIGHT_FLEET_REGISTRATION_SECRET",
        "fleet_registration_secret",
    ),
    ("MATCHWRIGHT_WEBHOOK_SECRET", "webhook_secret"),
    ("MATCHWRIGHT_OPERATOR_KEYS", "operator_keys"),
    (
        "MATCHWRIGHT_READ_ONLY_OPERATOR_KEYS",
        "read_only_operator_keys",
    ),
];
/// The secrets that are lists (their value holds several, split by [`list_secret`]).
pub const LIST_SECRETS: &[&str] = &["operator_keys", "read_only_operator_keys"];
/// The Postgres mirror's URL.
pub const POSTGRES_VARIABLE: &str = "MATCHWRIGHT_POSTGRES_URL";
/// What a secret is shown as.
pub const REDACTED: &str = "<redacted>";

/// The process's `MATCHWRIGHT_*` variables (the only ones kept). Its `Debug` shows their names,
/// not their values.
#[derive(Clone, Default)]
pub struct Environment {
    variables: BTreeMap<String, String>,
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.variables.keys()).finish()
    }
}

/// One override applied: the variable, and the setting it set (`server.tick_interval_ms`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    /// The variable (for a secret read from a file, the `_FILE` one).
    pub variable: String,
    /// The setting's path, dotted.
    pub setting: String,
}

/// A config as loaded: the settings, and the overrides the environment applied.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The checked settings.
    pub settings: Settings,
    /// The environment's overrides, by variable name.
    pub overrides: Vec<Override>,
}

impl Environment {
    /// The `MATCHWRIGHT_*` variables of `variables` (from `main`: `std::env::vars_os()`, which
    /// unlike `vars()` does not panic on another program's non-UTF-8 variable). One of ours
    /// whose name or value is not UTF-8 is an error.
    pub fn capture<I, K, V>(variables: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let mut kept = BTreeMap::new();
        for (name, value) in variables {
            let name: OsString = name.into();
            if !name.to_string_lossy().starts_with(PREFIX) {
                continue;
            }
            let name = name.into_string().map_err(|name| {
                format!(
                    "environment variable {}: its name is not UTF-8",
                    name.to_string_lossy()
                )
            })?;
            let value = value
                .into()
                .into_string()
                .map_err(|_| format!("environment variable {name}: its value is not UTF-8"))?;
            kept.insert(name, value);
        }
        Ok(Self { variables: kept })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.variables.get(name).map(String::as_str)
    }

    /// The `MATCHWRIGHT_*` variables that are none of ours (a misspelt secret's name, say),
    /// which nothing reads.
    pub fn unknown_variables(&self) -> Vec<&str> {
        let mut known: Vec<String> = SECRET_VARIABLES
            .iter()
            .map(|(variable, _)| *variable)
            .chain([POSTGRES_VARIABLE])
            .flat_map(|variable| [variable.to_owned(), format!("{variable}{FILE_SUFFIX}")])
            .collect();
        known.sort();
        self.variables
            .keys()
            .map(String::as_str)
            .filter(|name| !name.starts_with(OVERRIDE_PREFIX))
            .filter(|name| known.binary_search_by(|k| k.as_str().cmp(name)).is_err())
            .collect()
    }

    /// Reads the config file (none: the defaults), applies the environment's overrides and
    /// secrets, and checks the result.
    pub fn load(&self, path: Option<&Path>) -> Result<Loaded, SettingsError> {
        let fail = |error| SettingsError {
            path: path.map(Path::to_path_buf),
            error,
        };
        let table = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| {
                    fail(ConfigError::new(
                        "",
                        format!("cannot read the file: {error}"),
                    ))
                })?;
                Settings::parse_table(&text).map_err(fail)?
            }
            None => toml::Table::new(),
        };
        self.apply(table).map_err(fail)
    }

    /// Applies the overrides and secrets to a parsed config, and checks it.
    pub fn apply(&self, mut table: toml::Table) -> Result<Loaded, ConfigError> {
        let schema = schema(&Settings::default());
        let mut planned: Vec<(Override, toml::Value)> = Vec::new();
        for (variable, raw) in &self.variables {
            if !variable.starts_with(OVERRIDE_PREFIX) {
                continue;
            }
            let path = setting_path(variable, &schema)?;
            let leaf = path
                .iter()
                .try_fold(&schema, |node, segment| node.get(segment))
                .unwrap_or(&Json::Null);
            let value = override_value(variable, raw, leaf)?;
            planned.push((
                Override {
                    variable: variable.clone(),
                    setting: path.join("."),
                },
                value,
            ));
        }
        for (variable, field) in SECRET_VARIABLES {
            if let Some((value, source)) = self.secret(variable).map_err(no_field)? {
                let value = if LIST_SECRETS.contains(field) {
                    toml::Value::Array(
                        list_secret(&value)
                            .into_iter()
                            .map(toml::Value::String)
                            .collect(),
                    )
                } else {
                    toml::Value::String(value)
                };
                planned.push((
                    Override {
                        variable: source,
                        setting: format!("server.{field}"),
                    },
                    value,
                ));
            }
        }
        for (at, (first, _)) in planned.iter().enumerate() {
            for (second, _) in &planned[at + 1..] {
                if contains(&first.setting, &second.setting)
                    || contains(&second.setting, &first.setting)
                {
                    return Err(no_field(format!(
                        "environment variables `{}` and `{}` both set `{}`; set it once",
                        first.variable,
                        second.variable,
                        if first.setting.len() > second.setting.len() {
                            &first.setting
                        } else {
                            &second.setting
                        }
                    )));
                }
            }
        }
        let mut overrides = Vec::with_capacity(planned.len());
        for (applied, value) in planned {
            insert(&mut table, &applied, value, &schema)?;
            overrides.push(applied);
        }
        let settings = Settings::from_table(table).map_err(|error| attribute(error, &overrides))?;
        Ok(Loaded {
            settings,
            overrides,
        })
    }

    /// A secret from `variable`, or read from the file `variable_FILE` names: the value and
    /// the variable it came by.
    fn secret(&self, variable: &str) -> Result<Option<(String, String)>, String> {
        let file_variable = format!("{variable}{FILE_SUFFIX}");
        match (self.get(variable), self.get(&file_variable)) {
            (Some(_), Some(_)) => Err(format!(
                "environment variables `{variable}` and `{file_variable}` are both set; set one"
            )),
            (Some(value), None) => {
                if value.is_empty() {
                    return Err(format!("environment variable `{variable}` is empty"));
                }
                Ok(Some((value.to_owned(), variable.to_owned())))
            }
            (None, Some(path)) => Ok(Some((
                read_secret_file(
                    &format!("environment variable `{file_variable}`"),
                    Path::new(path),
                )?,
                file_variable,
            ))),
            (None, None) => Ok(None),
        }
    }

    /// The Postgres URL from one of `serve --postgres URL`, `--postgres-file PATH`,
    /// `MATCHWRIGHT_POSTGRES_URL` and `MATCHWRIGHT_POSTGRES_URL_FILE`, if any. More than one is
    /// an error: a forgotten variable never silently points the server at another database.
    pub fn postgres_url(
        &self,
        flag: Option<&str>,
        flag_file: Option<&Path>,
    ) -> Result<Option<String>, String> {
        let from_environment = self.secret(POSTGRES_VARIABLE)?;
        let mut given: Vec<String> = Vec::new();
        if flag.is_some() {
            given.push("`--postgres`".into());
        }
        if flag_file.is_some() {
            given.push("`--postgres-file`".into());
        }
        if let Some((_, variable)) = &from_environment {
            given.push(format!("environment variable `{variable}`"));
        }
        if given.len() > 1 {
            return Err(format!(
                "the Postgres URL is given by {}; give it once",
                given.join(" and ")
            ));
        }
        if let Some(url) = flag {
            if url.is_empty() {
                return Err("`--postgres` is empty".into());
            }
            return Ok(Some(url.to_owned()));
        }
        if let Some(path) = flag_file {
            return read_secret_file("`--postgres-file`", path).map(Some);
        }
        Ok(from_environment.map(|(url, _)| url))
    }
}

/// The items of a list secret: split at commas and line breaks, trimmed, empty ones dropped.
pub fn list_secret(value: &str) -> Vec<String> {
    value
        .split([',', '\n', '\r'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A secret's file: its text without one trailing line break; unreadable or empty is an error
/// naming `origin` (the variable or flag) and the path.
fn read_secret_file(origin: &str, path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("{origin}: cannot read {}: {error}", path.display()))?;
    let value = text.strip_suffix('\n').map_or(text.as_str(), |line| {
        line.strip_suffix('\r').unwrap_or(line)
    });
    if value.is_empty() {
        return Err(format!("{origin}: {} is empty", path.display()));
    }
    Ok(value.to_owned())
}

fn no_field(message: impl Into<String>) -> ConfigError {
    ConfigError::new("", message)
}

/// Whether setting `outer` is `inner` or holds it (`rate_limits` holds `rate_limits.read`).
fn contains(outer: &str, inner: &str) -> bool {
    inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// Every setting, at its value in `settings`: the matcher's keys at the top (with
/// `replace_queues`), each server table under its key. An `Option` that is unset is `null`:
/// the key is there, so the schema knows it.
fn schema(settings: &Settings) -> Json {
    let mut top = match serde_json::to_value(&settings.matcher) {
        Ok(Json::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    top.insert("replace_queues".into(), Json::Bool(false));
    let sections = [
        ("server", serde_json::to_value(&settings.server)),
        ("fleet", serde_json::to_value(&settings.fleet)),
        ("lobby", serde_json::to_value(&settings.lobby)),
        ("rate_limits", serde_json::to_value(&settings.rate_limits)),
        ("quic", serde_json::to_value(&settings.quic)),
        ("telemetry", serde_json::to_value(&settings.telemetry)),
        ("cluster", serde_json::to_value(&settings.cluster)),
        ("webhooks", serde_json::to_value(&settings.webhooks)),
    ];
    for (key, value) in sections {
        // Plain structs of numbers, strings and lists always serialize.
        top.insert(key.into(), value.unwrap_or_default());
    }
    Json::Object(top)
}

/// The setting `variable` names, checked against the schema.
fn setting_path(variable: &str, schema: &Json) -> Result<Vec<String>, ConfigError> {
    let rest = &variable[OVERRIDE_PREFIX.len()..];
    let path: Vec<String> = rest.split(SEPARATOR).map(str::to_ascii_lowercase).collect();
    let unknown = |why: String| {
        no_field(format!(
            "environment variable `{variable}` names no setting: {why}"
        ))
    };
    if path.iter().any(String::is_empty) {
        return Err(unknown(format!(
            "give a setting's path after `{OVERRIDE_PREFIX}`, its tables and field split by \
             `{SEPARATOR}`, e.g. `{OVERRIDE_PREFIX}SERVER{SEPARATOR}TICK_INTERVAL_MS`"
        )));
    }
    let mut node = schema;
    for (depth, segment) in path.iter().enumerate() {
        let place = if depth == 0 {
            "the config".to_owned()
        } else {
            format!("`[{}]`", path[..depth].join("."))
        };
        let fields = match node {
            Json::Object(fields) => fields,
            Json::Array(_) => {
                return Err(unknown(format!(
                    "{place} is a list; set it whole, as a TOML array, with `{OVERRIDE_PREFIX}{}`",
                    path[..depth].join(SEPARATOR).to_ascii_uppercase()
                )));
            }
            _ => return Err(unknown(format!("{place} is not a table"))),
        };
        node = fields.get(segment).ok_or_else(|| {
            unknown(format!(
                "{place} has no `{segment}` (it has {})",
                fields
                    .keys()
                    .map(|key| format!("`{key}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    }
    if let [table, field] = path.as_slice()
        && table == "server"
        && let Some((secret, _)) = SECRET_VARIABLES.iter().find(|(_, name)| name == field)
    {
        return Err(no_field(format!(
            "environment variable `{variable}`: set the secret `server.{field}` with \
             `{secret}` or `{secret}{FILE_SUFFIX}`"
        )));
    }
    Ok(path)
}

/// `raw` as the value of the setting whose current value is `leaf`.
fn override_value(variable: &str, raw: &str, leaf: &Json) -> Result<toml::Value, ConfigError> {
    use toml::Value as Toml;
    let parsed = parse_toml_value(raw);
    let expected = match (leaf, parsed) {
        // A string setting takes the text as it is (a season called `2026`).
        (Json::String(_), _) => return Ok(Toml::String(raw.to_owned())),
        // An unset `Option`: its type is not known here; the check after says if it fits.
        (Json::Null, parsed) => return Ok(parsed.unwrap_or_else(|| Toml::String(raw.into()))),
        (Json::Bool(_), Some(value @ Toml::Boolean(_))) => return Ok(value),
        (Json::Bool(_), _) => "`true` or `false`",
        (Json::Number(number), Some(Toml::Integer(integer))) if number.is_f64() => {
            return Ok(Toml::Float(integer as f64));
        }
        (Json::Number(number), Some(value @ Toml::Float(_))) if number.is_f64() => {
            return Ok(value);
        }
        (Json::Number(number), _) if number.is_f64() => "a number",
        (Json::Number(_), Some(value @ Toml::Integer(_))) => return Ok(value),
        (Json::Number(_), _) => "an integer",
        (Json::Array(_), Some(value @ Toml::Array(_))) => return Ok(value),
        (Json::Array(_), _) => "a TOML array, e.g. `[\"a\", \"b\"]`",
        (Json::Object(_), Some(value @ Toml::Table(_))) => return Ok(value),
        (Json::Object(_), _) => "a TOML inline table, e.g. `{ key = 1 }`",
    };
    Err(no_field(format!(
        "environment variable `{variable}`: `{raw}` is not {expected}"
    )))
}

/// `raw` as one TOML value, if it is one.
fn parse_toml_value(raw: &str) -> Option<toml::Value> {
    let mut table: toml::Table = format!("value = {raw}").parse().ok()?;
    if table.len() != 1 {
        // `1\nother = 2`: more than a value.
        return None;
    }
    table.remove("value")
}

/// Puts one override into the config's TOML. A table on the way that the file leaves out
/// starts from its defaults (the schema's), so `rate_limits.read.per_ip_per_minute` keeps
/// `read`'s default per-player limit.
fn insert(
    table: &mut toml::Table,
    applied: &Override,
    value: toml::Value,
    schema: &Json,
) -> Result<(), ConfigError> {
    let path: Vec<&str> = applied.setting.split('.').collect();
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut node = table;
    let mut default = Some(schema);
    for (depth, segment) in parents.iter().enumerate() {
        default = default.and_then(|value| value.get(*segment));
        let entry = node.entry(segment.to_string()).or_insert_with(|| {
            match default.and_then(json_to_toml) {
                Some(table @ toml::Value::Table(_)) => table,
                _ => toml::Value::Table(toml::Table::new()),
            }
        });
        node = match entry {
            toml::Value::Table(inner) => inner,
            other => {
                return Err(no_field(format!(
                    "environment variable `{}` sets a field of `{}`, which the file gives as a {}, not a table",
                    applied.variable,
                    parents[..=depth].join("."),
                    other.type_str()
                )));
            }
        };
    }
    node.insert(last.to_string(), value);
    Ok(())
}

/// A JSON value as TOML; `None` for `null` (an unset `Option`: TOML leaves it out).
fn json_to_toml(value: &Json) -> Option<toml::Value> {
    Some(match value {
        Json::Null => return None,
        Json::Bool(value) => toml::Value::Boolean(*value),
        Json::Number(number) => match (number.as_i64(), number.as_f64()) {
            (Some(integer), _) => toml::Value::Integer(integer),
            (None, Some(float)) if !number.is_u64() => toml::Value::Float(float),
            // Above i64::MAX: no TOML file could have given it.
            _ => return None,
        },
        Json::String(text) => toml::Value::String(text.clone()),
        Json::Array(items) => toml::Value::Array(items.iter().filter_map(json_to_toml).collect()),
        Json::Object(fields) => toml::Value::Table(
            fields
                .iter()
                .filter_map(|(key, value)| Some((key.clone(), json_to_toml(value)?)))
                .collect(),
        ),
    })
}

/// Names the variables behind an error about a setting they set.
fn attribute(error: ConfigError, overrides: &[Override]) -> ConfigError {
    if error.field.is_empty() {
        return error;
    }
    let exact: Vec<&str> = overrides
        .iter()
        .filter(|applied| contains(&applied.setting, &error.field))
        .map(|applied| applied.variable.as_str())
        .collect();
    let within: Vec<&str> = overrides
        .iter()
        .filter(|applied| {
            applied.setting != error.field && contains(&error.field, &applied.setting)
        })
        .map(|applied| applied.variable.as_str())
        .collect();
    let note = if !exact.is_empty() {
        format!(" (set by environment variable {})", quoted(&exact))
    } else if !within.is_empty() {
        format!(
            " (environment variables setting fields in it: {})",
            quoted(&within)
        )
    } else {
        return error;
    };
    ConfigError::new(error.field, format!("{}{note}", error.message))
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The settings as a TOML config file (the exact form: `replace_queues = true` and every
/// queue), secrets shown as `"<redacted>"`. Read back, it gives the same settings (but for the
/// redacted secrets).
pub fn effective_toml(settings: &Settings) -> String {
    let Json::Object(mut all) = schema(settings) else {
        return String::new();
    };
    all.insert("replace_queues".into(), Json::Bool(true));
    if let Some(Json::Object(server)) = all.get_mut("server") {
        for (_, field) in SECRET_VARIABLES {
            match server.get_mut(*field) {
                Some(Json::Array(items)) => {
                    for item in items {
                        *item = Json::String(REDACTED.into());
                    }
                }
                Some(value) if !value.is_null() => *value = Json::String(REDACTED.into()),
                _ => {}
            }
        }
    }
    let mut matcher = toml::Table::new();
    let mut sections = Vec::new();
    for (key, value) in all {
        let Some(value) = json_to_toml(&value) else {
            continue;
        };
        if SERVER_KEYS.contains(&key.as_str()) {
            sections.push((key, value));
        } else {
            matcher.insert(key, value);
        }
    }
    // The matcher's keys first, then each server table in the order of `SERVER_KEYS`.
    sections.sort_by_key(|(key, _)| SERVER_KEYS.iter().position(|known| known == key));
    let mut text = toml::to_string(&matcher).unwrap_or_default();
    for (key, value) in sections {
        let mut one = toml::Table::new();
        one.insert(key, value);
        text.push('\n');
        text.push_str(&toml::to_string(&one).unwrap_or_default());
    }
    text
}

/// `matchwright config check [FILE]`: the effective config (file, then environment) as TOML,
/// secrets redacted, with comments on where it came from; or why it does not load.
pub fn check(environment: &Environment, path: Option<&Path>) -> Result<String, String> {
    let loaded = environment.load(path).map_err(|error| error.to_string())?;
    let postgres = environment
        .secret(POSTGRES_VARIABLE)
        .map_err(|error| format!("config: {error}"))?;
    let mut text = String::from("# matchwright config check: the config is valid.\n");
    match path {
        Some(path) => text.push_str(&format!("# file: {}\n", path.display())),
        None => text.push_str("# file: none (the built-in defaults)\n"),
    }
    for applied in &loaded.overrides {
        text.push_str(&format!(
            "# environment: {} sets {}\n",
            applied.variable, applied.setting
        ));
    }
    let server = &loaded.settings.server;
    let unset: Vec<&str> = [
        ("jwt_secret", &server.jwt_secret),
        ("session_secret", &server.session_secret),
        ("game_server_key", &server.game_server_key),
    ]
    .into_iter()
    .filter(|(_, value)| value.is_none())
    .map(|(field, _)| field)
    .collect();
    if !unset.is_empty() {
        text.push_str(&format!(
            "# secrets not set ({}): `serve` reads them from DATA_DIR/secrets.toml, which the first start creates\n",
            unset.join(", ")
        ));
    }
    if let Some((_, variable)) = postgres {
        text.push_str(&format!(
            "# postgres: from environment variable {variable} (redacted)\n"
        ));
    }
    for name in environment.unknown_variables() {
        text.push_str(&format!(
            "# not read: {name} (no such matchwright variable)\n"
        ));
    }
    text.push('\n');
    text.push_str(&effective_toml(&loaded.settings));
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::MATCHER_KEYS;

    fn environment(variables: &[(&str, &str)]) -> Environment {
        Environment::capture(variables.iter().copied()).unwrap()
    }

    fn apply(variables: &[(&str, &str)], file: &str) -> Result<Settings, String> {
        environment(variables)
            .apply(Settings::parse_table(file).unwrap())
            .map(|loaded| loaded.settings)
            .map_err(|error| error.to_string())
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn no_variables_is_the_file() {
        assert_eq!(apply(&[], "").unwrap(), Settings::default());
        let text = "[server]\ntick_interval_ms = 200\n";
        assert_eq!(
            apply(&[("PATH", "/bin"), ("HOME", "/root")], text).unwrap(),
            Settings::from_toml_str(text).unwrap()
        );
    }

    #[test]
    fn overrides_set_server_matcher_and_nested_settings() {
        let settings = apply(
            &[
                ("MATCHWRIGHT__SERVER__TICK_INTERVAL_MS", "50"),
                ("MATCHWRIGHT__SERVER__SEASON", "2026"),
                ("MATCHWRIGHT__RATE_LIMITS__AUTH__PER_IP_PER_MINUTE", "10"),
                ("MATCHWRIGHT__RATE_LIMITS__READ__PER_IP_PER_MINUTE", "7"),
                ("MATCHWRIGHT__RATE_LIMITS__ENABLED", "false"),
                (
                    "MATCHWRIGHT__RATE_LIMITS__CLIENT_IP_HEADER",
                    "x-forwarded-for",
                ),
                ("MATCHWRIGHT__QUIC__CERT", "/etc/matchwright/cert.pem"),
                ("MATCHWRIGHT__QUIC__KEY", "/etc/matchwright/key.pem"),
                ("MATCHWRIGHT__LIMITS__MAX_PARTIES", "5000"),
                ("MATCHWRIGHT__RATING__BETA", "300"),
                ("MATCHWRIGHT__RATING__INITIAL__MU", "1400.5"),
                (
                    "MATCHWRIGHT__QUEUES",
                    r#"[{ name = "ranked-5v5", acceptance = { timeout_ms = 9000 } }]"#,
                ),
                (
                    "MATCHWRIGHT__FLEET__SERVERS",
                    r#"[{ region = "eu-west", address = "203.0.113.7:7777", capacity = 8 }]"#,
                ),
                ("MATCHWRIGHT__Lobby__max_invites", "3"),
                // Not ours: the prefix is in capitals.
                ("matchwright__lobby__chat_history", "7"),
            ],
            "",
        )
        .unwrap();
        let defaults = Settings::default();
        assert_eq!(settings.server.tick_interval_ms, 50);
        // A string setting takes the text as it is, even when it reads as a number.
        assert_eq!(settings.server.season, "2026");
        assert_eq!(settings.rate_limits.auth.per_ip_per_minute, 10);
        // The rest of a table the file left out keeps its defaults.
        assert_eq!(settings.rate_limits.read.per_ip_per_minute, 7);
        assert_eq!(settings.rate_limits.read.per_player_per_minute, 100);
        assert!(!settings.rate_limits.enabled);
        assert_eq!(
            settings.rate_limits.client_ip_header.as_deref(),
            Some("x-forwarded-for")
        );
        assert_eq!(
            settings.quic.cert.as_deref(),
            Some(Path::new("/etc/matchwright/cert.pem"))
        );
        assert_eq!(settings.matcher.limits.max_parties, 5000);
        assert_eq!(settings.matcher.rating.beta, 300.0);
        assert_eq!(settings.matcher.rating.initial.mu, 1400.5);
        assert_eq!(
            settings.matcher.rating.initial.sigma,
            defaults.matcher.rating.initial.sigma
        );
        // Queues merge by name, as in the file: the other shipped queues stay.
        assert_eq!(settings.matcher.queues.len(), defaults.matcher.queues.len());
        let ranked = settings.matcher.queue_index("ranked-5v5").unwrap();
        assert_eq!(
            settings.matcher.queues[ranked]
                .acceptance
                .as_ref()
                .map(|acceptance| acceptance.timeout_ms),
            Some(9000)
        );
        assert_eq!(settings.fleet.servers.len(), 1);
        assert_eq!(settings.fleet.servers[0].capacity, 8);
        // Paths are matched lower-cased.
        assert_eq!(settings.lobby.max_invites, 3);
        assert_eq!(settings.lobby.chat_history, defaults.lobby.chat_history);
    }

    #[test]
    fn overrides_beat_the_file_and_keep_the_rest_of_its_table() {
        let file = "[server]\ntick_interval_ms = 200\nseed = 9\n\n[rate_limits]\nread = { per_ip_per_minute = 5 }\n";
        let settings = apply(
            &[
                ("MATCHWRIGHT__SERVER__TICK_INTERVAL_MS", "20"),
                ("MATCHWRIGHT__RATE_LIMITS__READ__PER_PLAYER_PER_MINUTE", "6"),
            ],
            file,
        )
        .unwrap();
        assert_eq!(settings.server.tick_interval_ms, 20);
        assert_eq!(settings.server.seed, 9);
        assert_eq!(settings.rate_limits.read.per_ip_per_minute, 5);
        assert_eq!(settings.rate_limits.read.per_player_per_minute, 6);
    }

    #[test]
    fn an_override_naming_no_setting_is_an_error_naming_the_variable() {
        for (variable, expected) in [
            (
                "MATCHWRIGHT__SERVER__TICK_INTERVAL_MSS",
                "`[server]` has no `tick_interval_mss` (it has",
            ),
            ("MATCHWRIGHT__SERVR__SEED", "the config has no `servr`"),
            (
                "MATCHWRIGHT__SERVER__SEED__X",
                "`[server.seed]` is not a table",
            ),
            (
                "MATCHWRIGHT__QUEUES__RANKED__TEAM_SIZE",
                "`[queues]` is a list; set it whole, as a TOML array, with `MATCHWRIGHT__QUEUES`",
            ),
            ("MATCHWRIGHT__SERVER____SEED", "give a setting's path"),
            ("MATCHWRIGHT__", "give a setting's path"),
            ("MATCHWRIGHT__SERVER__", "give a setting's path"),
        ] {
            let error = apply(&[(variable, "1")], "").unwrap_err();
            assert!(
                error.contains(&format!(
                    "environment variable `{variable}` names no setting"
                )),
                "{variable}: {error}"
            );
            assert!(error.contains(expected), "{variable}: {error}");
        }
    }

    #[test]
    fn a_value_of_the_wrong_type_or_out_of_range_names_the_variable() {
        for (variable, value, expected) in [
            (
                "MATCHWRIGHT__SERVER__SEED",
                "abc",
                "`abc` is not an integer",
            ),
            (
                "MATCHWRIGHT__SERVER__SEED",
                "1.5",
                "`1.5` is not an integer",
            ),
            (
                "MATCHWRIGHT__RATE_LIMITS__ENABLED",
                "yes",
                "is not `true` or `false`",
            ),
            (
                "MATCHWRIGHT__RATING__BETA",
                "wide",
                "`wide` is not a number",
            ),
            ("MATCHWRIGHT__REGIONS", "eu-west", "is not a TOML array"),
            (
                "MATCHWRIGHT__RATE_LIMITS__READ",
                "5",
                "is not a TOML inline table",
            ),
            // A second key smuggled into the value is not a value.
            (
                "MATCHWRIGHT__SERVER__SEED",
                "1\nseason = \"x\"",
                "is not an integer",
            ),
        ] {
            let error = apply(&[(variable, value)], "").unwrap_err();
            assert!(
                error.contains(&format!("environment variable `{variable}`: ")),
                "{error}"
            );
            assert!(error.contains(expected), "{variable}={value}: {error}");
        }
        // Checked like the file: the range error names the field and the variable.
        let error = apply(&[("MATCHWRIGHT__SERVER__TICK_INTERVAL_MS", "0")], "").unwrap_err();
        assert!(
            error.contains("field `server.tick_interval_ms`: must be between 1 and 10000"),
            "{error}"
        );
        assert!(
            error.contains("set by environment variable `MATCHWRIGHT__SERVER__TICK_INTERVAL_MS`"),
            "{error}"
        );
        let error = apply(
            &[("MATCHWRIGHT__QUEUES", "[{ name = \"x\", teams = 0 }]")],
            "",
        )
        .unwrap_err();
        assert!(error.contains("`MATCHWRIGHT__QUEUES`"), "{error}");
    }

    #[test]
    fn two_variables_setting_one_setting_is_an_error() {
        let error = apply(
            &[
                ("MATCHWRIGHT__SERVER__SEED", "1"),
                ("MATCHWRIGHT__server__seed", "2"),
            ],
            "",
        )
        .unwrap_err();
        assert!(error.contains("both set `server.seed`"), "{error}");
        let error = apply(
            &[
                (
                    "MATCHWRIGHT__RATE_LIMITS__READ",
                    "{ per_ip_per_minute = 1 }",
                ),
                ("MATCHWRIGHT__RATE_LIMITS__READ__PER_PLAYER_PER_MINUTE", "2"),
            ],
            "",
        )
        .unwrap_err();
        assert!(
            error.contains("both set `rate_limits.read.per_player_per_minute`"),
            "{error}"
        );
    }

    #[test]
    fn secrets_come_from_variables_or_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("session");
        std::fs::write(&file, format!("{SECRET}-session\n")).unwrap();
        let crlf = dir.path().join("key");
        std::fs::write(&crlf, format!("{SECRET}-key\r\n")).unwrap();
        let loaded = environment(&[
            ("MATCHWRIGHT_JWT_SECRET", SECRET),
            ("MATCHWRIGHT_SESSION_SECRET_FILE", file.to_str().unwrap()),
            ("MATCHWRIGHT_GAME_SERVER_KEY_FILE", crlf.to_str().unwrap()),
        ])
        .apply(toml::Table::new())
        .unwrap();
        let server = &loaded.settings.server;
        assert_eq!(server.jwt_secret.as_deref(), Some(SECRET));
        // One trailing line break is dropped.
        assert_eq!(
            server.session_secret.as_deref(),
            Some(format!("{SECRET}-session").as_str())
        );
        assert_eq!(
            server.game_server_key.as_deref(),
            Some(format!("{SECRET}-key").as_str())
        );
        assert!(loaded.overrides.contains(&Override {
            variable: "MATCHWRIGHT_SESSION_SECRET_FILE".into(),
            setting: "server.session_secret".into(),
        }));
        // The environment beats the file's `[server]` secret.
        let settings = apply(
            &[("MATCHWRIGHT_JWT_SECRET", SECRET)],
            "[server]\njwt_secret = \"from the file, 32 bytes or longer....\"\n",
        )
        .unwrap();
        assert_eq!(settings.server.jwt_secret.as_deref(), Some(SECRET));
    }

    #[test]
    fn operator_keys_are_a_list_from_a_variable_or_a_file_and_are_redacted() {
        let first = format!("{SECRET}-one");
        let second = format!("{SECRET}-two");
        let settings = apply(
            &[("MATCHWRIGHT_OPERATOR_KEYS", &format!("{first}, {second},"))],
            "",
        )
        .unwrap();
        assert_eq!(
            settings.server.operator_keys,
            [first.clone(), second.clone()]
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("operators");
        std::fs::write(&file, format!("{first}\n{second}\n")).unwrap();
        let loaded = environment(&[("MATCHWRIGHT_OPERATOR_KEYS_FILE", file.to_str().unwrap())])
            .apply(toml::Table::new())
            .unwrap();
        assert_eq!(
            loaded.settings.server.operator_keys,
            [first.clone(), second]
        );
        let text = effective_toml(&loaded.settings);
        assert!(!text.contains(&first), "{text}");
        assert!(
            text.contains("operator_keys = [\"<redacted>\", \"<redacted>\"]"),
            "{text}"
        );
        // Each key is long enough, and the generic form points to the variables.
        let error = apply(&[("MATCHWRIGHT_OPERATOR_KEYS", "short")], "").unwrap_err();
        assert!(
            error.contains("field `server.operator_keys[0]`: must be at least 32 bytes"),
            "{error}"
        );
        let error = apply(&[("MATCHWRIGHT__SERVER__OPERATOR_KEYS", "[]")], "").unwrap_err();
        assert!(
            error.contains("`MATCHWRIGHT_OPERATOR_KEYS_FILE`"),
            "{error}"
        );
    }

    #[test]
    fn read_only_operator_keys_are_redacted_and_a_key_has_one_role() {
        let admin = format!("{SECRET}-admin");
        let reader = format!("{SECRET}-reader");
        let loaded = environment(&[
            ("MATCHWRIGHT_OPERATOR_KEYS", &admin),
            ("MATCHWRIGHT_READ_ONLY_OPERATOR_KEYS", &reader),
        ])
        .apply(toml::Table::new())
        .unwrap();
        assert_eq!(
            loaded.settings.server.read_only_operator_keys,
            std::slice::from_ref(&reader)
        );
        let text = effective_toml(&loaded.settings);
        assert!(!text.contains(&reader), "{text}");
        assert!(
            text.contains("read_only_operator_keys = [\"<redacted>\"]"),
            "{text}"
        );
        let error = apply(
            &[
                ("MATCHWRIGHT_OPERATOR_KEYS", &admin),
                ("MATCHWRIGHT_READ_ONLY_OPERATOR_KEYS", &admin),
            ],
            "",
        )
        .unwrap_err();
        assert!(
            error.contains("server.read_only_operator_keys[0]")
                && error.contains("a key has one role"),
            "{error}"
        );
        let error = apply(&[("MATCHWRIGHT_READ_ONLY_OPERATOR_KEYS", "short")], "").unwrap_err();
        assert!(
            error.contains("field `server.read_only_operator_keys[0]`: must be at least 32 bytes"),
            "{error}"
        );
    }

    #[test]
    fn a_secret_given_twice_unreadable_empty_or_short_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jwt");
        std::fs::write(&file, SECRET).unwrap();
        let path = file.to_str().unwrap();
        let error = apply(
            &[
                ("MATCHWRIGHT_JWT_SECRET", SECRET),
                ("MATCHWRIGHT_JWT_SECRET_FILE", path),
            ],
            "",
        )
        .unwrap_err();
        assert!(
            error.contains(
                "`MATCHWRIGHT_JWT_SECRET` and `MATCHWRIGHT_JWT_SECRET_FILE` are both set"
            ),
            "{error}"
        );
        let missing = dir.path().join("missing");
        let error = apply(
            &[("MATCHWRIGHT_SESSION_SECRET_FILE", missing.to_str().unwrap())],
            "",
        )
        .unwrap_err();
        assert!(
            error.contains(&format!(
                "environment variable `MATCHWRIGHT_SESSION_SECRET_FILE`: cannot read {}",
                missing.display()
            )),
            "{error}"
        );
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let error = apply(
            &[("MATCHWRIGHT_GAME_SERVER_KEY_FILE", empty.to_str().unwrap())],
            "",
        )
        .unwrap_err();
        assert!(error.contains("is empty"), "{error}");
        let error = apply(&[("MATCHWRIGHT_GAME_SERVER_KEY", "")], "").unwrap_err();
        assert!(
            error.contains("`MATCHWRIGHT_GAME_SERVER_KEY` is empty"),
            "{error}"
        );
        let error = apply(&[("MATCHWRIGHT_JWT_SECRET", "short")], "").unwrap_err();
        assert!(
            error.contains("field `server.jwt_secret`: must be at least 32 bytes"),
            "{error}"
        );
        assert!(error.contains("`MATCHWRIGHT_JWT_SECRET`"), "{error}");
        // The generic form of a secret points to its variables.
        let error = apply(&[("MATCHWRIGHT__SERVER__JWT_SECRET", SECRET)], "").unwrap_err();
        assert!(
            error.contains("with `MATCHWRIGHT_JWT_SECRET` or `MATCHWRIGHT_JWT_SECRET_FILE`"),
            "{error}"
        );
    }

    #[test]
    fn the_postgres_url_comes_from_one_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("url");
        std::fs::write(&file, "postgres://user:pw@db/matchwright\n").unwrap();
        let url = "postgres://user:pw@db/matchwright";
        let none = environment(&[]);
        assert_eq!(none.postgres_url(None, None), Ok(None));
        assert_eq!(none.postgres_url(Some(url), None), Ok(Some(url.to_owned())));
        assert_eq!(
            none.postgres_url(None, Some(&file)),
            Ok(Some(url.to_owned()))
        );
        let variable = environment(&[("MATCHWRIGHT_POSTGRES_URL", url)]);
        assert_eq!(variable.postgres_url(None, None), Ok(Some(url.to_owned())));
        let from_file = environment(&[("MATCHWRIGHT_POSTGRES_URL_FILE", file.to_str().unwrap())]);
        assert_eq!(from_file.postgres_url(None, None), Ok(Some(url.to_owned())));
        let error = variable.postgres_url(Some(url), None).unwrap_err();
        assert!(
            error.contains(
                "given by `--postgres` and environment variable `MATCHWRIGHT_POSTGRES_URL`"
            ),
            "{error}"
        );
        let error = from_file.postgres_url(None, Some(&file)).unwrap_err();
        assert!(
            error.contains(
                "`--postgres-file` and environment variable `MATCHWRIGHT_POSTGRES_URL_FILE`"
            ),
            "{error}"
        );
        let both = environment(&[
            ("MATCHWRIGHT_POSTGRES_URL", url),
            ("MATCHWRIGHT_POSTGRES_URL_FILE", file.to_str().unwrap()),
        ]);
        assert!(
            both.postgres_url(None, None)
                .unwrap_err()
                .contains("both set")
        );
        let missing = dir.path().join("missing");
        let error = none.postgres_url(None, Some(&missing)).unwrap_err();
        assert!(
            error.starts_with("`--postgres-file`: cannot read"),
            "{error}"
        );
        // Settings ignore it: it is not a config setting.
        assert_eq!(
            variable.apply(toml::Table::new()).unwrap().settings,
            Settings::default()
        );
    }

    #[test]
    fn the_effective_config_reads_back_the_same_and_redacts_secrets() {
        let settings = apply(
            &[
                ("MATCHWRIGHT__SERVER__TICK_INTERVAL_MS", "50"),
                ("MATCHWRIGHT__RATE_LIMITS__CLIENT_IP_HEADER", "x-real-ip"),
                (
                    "MATCHWRIGHT__QUEUES",
                    "[{ name = \"squads-4v4\", team_size = 4, max_party_size = 4 }]",
                ),
            ],
            include_str!("../../config/load.toml"),
        )
        .unwrap();
        let text = effective_toml(&settings);
        assert_eq!(Settings::from_toml_str(&text).unwrap(), settings, "{text}");
        assert!(text.contains("replace_queues = true"), "{text}");
        let with_secret = apply(&[("MATCHWRIGHT_JWT_SECRET", SECRET)], "").unwrap();
        let text = effective_toml(&with_secret);
        assert!(!text.contains(SECRET), "{text}");
        assert!(text.contains("jwt_secret = \"<redacted>\""), "{text}");
        assert!(!text.contains("session_secret"), "{text}");
    }

    #[test]
    fn the_telemetry_endpoint_has_a_variable_and_is_checked() {
        let variable = "MATCHWRIGHT__TELEMETRY__OTLP_ENDPOINT";
        let settings = apply(&[(variable, "http://127.0.0.1:4318")], "").unwrap();
        assert_eq!(
            settings.telemetry.otlp_endpoint.as_deref(),
            Some("http://127.0.0.1:4318")
        );
        let error = apply(&[(variable, "https://collector:4318")], "").unwrap_err();
        assert!(
            error.contains("telemetry.otlp_endpoint") && error.contains(variable),
            "{error}"
        );
    }

    #[test]
    fn every_config_key_is_in_the_schema() {
        let Json::Object(top) = schema(&Settings::default()) else {
            panic!("the schema is a table");
        };
        let mut keys: Vec<&str> = top.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = MATCHER_KEYS.iter().chain(SERVER_KEYS).copied().collect();
        keys.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys, expected, "add a new table to `schema`");
    }

    #[test]
    fn capture_keeps_our_variables_and_refuses_ours_when_not_utf8() {
        let captured = environment(&[
            ("HOME", "/root"),
            ("MATCHWRIGHT_JWT_SECRT", "typo"),
            ("MATCHWRIGHT_JWT_SECRET", SECRET),
            ("MATCHWRIGHT__SERVER__SEED", "3"),
        ]);
        assert_eq!(
            format!("{captured:?}"),
            r#"{"MATCHWRIGHT_JWT_SECRET", "MATCHWRIGHT_JWT_SECRT", "MATCHWRIGHT__SERVER__SEED"}"#
        );
        assert_eq!(captured.unknown_variables(), ["MATCHWRIGHT_JWT_SECRT"]);
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt as _;
            let bad = OsString::from_vec(vec![0xff, 0xfe]);
            let other = Environment::capture([(OsString::from("LANG"), bad.clone())]);
            assert!(other.is_ok());
            let ours = Environment::capture([(OsString::from("MATCHWRIGHT__SERVER__SEASON"), bad)]);
            assert!(ours.unwrap_err().contains("its value is not UTF-8"));
        }
    }
}
