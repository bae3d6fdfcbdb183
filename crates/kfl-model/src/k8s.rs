//! Names and values that end up in Kubernetes objects: object and template names, environment
//! variable names, image references, label keys and values, pip requirements.
//!
//! Invariants:
//! - Pure: no IO, no global state, and no panic on any input text (including non-ASCII).
//! - A [`K8sName`] always holds a DNS-1123 label that starts with a letter: 1 to 63 characters,
//!   lowercase `a-z`, digits and `-`, ending with a letter or digit. It is only made by
//!   [`k8s_name`] or by joining two valid names ([`K8sName::join`]), which keeps it valid.
//! - A suggested fix carried by a [`K8sNameError`] is itself a [`K8sName`], so it is valid by
//!   construction.
//! - An [`ImageRef`] only exists for a reference that Docker and containerd would accept; its
//!   `Display` gives back an equivalent reference.
//! - Messages are short, lowercase and without a final period, as the rest of the diagnostics.

use std::fmt;

/// The longest DNS-1123 label (object names, label names and values).
pub const LABEL_MAX_LENGTH: usize = 63;
/// The longest DNS-1123 subdomain (label key prefixes).
pub const SUBDOMAIN_MAX_LENGTH: usize = 253;
/// The longest repository name in an image reference (registry and path together).
pub const IMAGE_NAME_MAX_LENGTH: usize = 255;

// ---------------------------------------------------------------------------------------------
// Kubernetes names
// ---------------------------------------------------------------------------------------------

/// A valid Kubernetes (and Argo template) name: a DNS-1123 label that starts with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct K8sName(String);

impl K8sName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `self-other`, shortened to 63 characters when needed by keeping a prefix and ending with
    /// `-` and 8 hex digits of a hash of the full name, so different long names stay different.
    pub fn join(&self, other: &K8sName) -> K8sName {
        K8sName(fit_label_length(format!("{}-{}", self.0, other.0)))
    }
}

impl fmt::Display for K8sName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl AsRef<str> for K8sName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Length of the hash suffix added by [`fit_label_length`].
const HASH_SUFFIX_LENGTH: usize = 8;

/// Shortens a valid name (letters, digits, `-`, starting with a letter) to at most 63 characters.
fn fit_label_length(full: String) -> String {
    if full.len() <= LABEL_MAX_LENGTH {
        return full;
    }
    let hash = fnv1a_32(full.as_bytes());
    let keep = LABEL_MAX_LENGTH - 1 - HASH_SUFFIX_LENGTH;
    let prefix: String = full.chars().take(keep).collect();
    format!("{}-{hash:08x}", prefix.trim_end_matches('-'))
}

/// FNV-1a, 32 bits: small, stable across Rust versions and platforms (unlike `DefaultHasher`).
fn fnv1a_32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193))
}

/// Why a KFL name cannot become a Kubernetes name. Offsets are byte offsets into the KFL name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum K8sNameError {
    Empty,
    Uppercase {
        byte_offset: usize,
        found: char,
        suggestion: Option<K8sName>,
    },
    InvalidCharacter {
        byte_offset: usize,
        found: char,
        suggestion: Option<K8sName>,
    },
    /// The first character is not a letter (a digit or `_`).
    BadStart {
        found: char,
        suggestion: Option<K8sName>,
    },
    /// The last character is not a letter or digit (`_` or `-`).
    BadEnd {
        found: char,
        suggestion: Option<K8sName>,
    },
    TooLong {
        length: usize,
        suggestion: Option<K8sName>,
    },
}

impl K8sNameError {
    /// A valid name close to the one given, for a quick fix.
    pub fn suggestion(&self) -> Option<&K8sName> {
        match self {
            K8sNameError::Empty => None,
            K8sNameError::Uppercase { suggestion, .. }
            | K8sNameError::InvalidCharacter { suggestion, .. }
            | K8sNameError::BadStart { suggestion, .. }
            | K8sNameError::BadEnd { suggestion, .. }
            | K8sNameError::TooLong { suggestion, .. } => suggestion.as_ref(),
        }
    }

    /// A help sentence that says what to do: lowercase, no final period.
    pub fn help(&self) -> String {
        const RULE: &str = "names that become Kubernetes names use lowercase letters, digits and \
                            `_`, start with a letter and have at most 63 characters";
        match self.suggestion() {
            Some(suggestion) => format!("use `{suggestion}`; {RULE}"),
            None => RULE.to_string(),
        }
    }
}

impl fmt::Display for K8sNameError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            K8sNameError::Empty => formatter.write_str("a Kubernetes name cannot be empty"),
            K8sNameError::Uppercase { found, .. } => {
                write!(formatter, "uppercase letter `{found}` in a name that must be lowercase for Kubernetes")
            }
            K8sNameError::InvalidCharacter { found, .. } => {
                write!(formatter, "`{found}` cannot appear in a name that becomes a Kubernetes name")
            }
            K8sNameError::BadStart { found, .. } => {
                write!(formatter, "a name that becomes a Kubernetes name must start with a letter, not `{found}`")
            }
            K8sNameError::BadEnd { found, .. } => write!(
                formatter,
                "a name that becomes a Kubernetes name must end with a letter or digit, not `{found}`"
            ),
            K8sNameError::TooLong { length, .. } => write!(
                formatter,
                "name is {length} characters long, more than the {LABEL_MAX_LENGTH} Kubernetes allows"
            ),
        }
    }
}

impl std::error::Error for K8sNameError {}

/// Turns a KFL name into a Kubernetes name: `_` becomes `-`, and the result must be a DNS-1123
/// label that starts with a letter (stricter than Kubernetes, because Argo template names are).
/// Problems are reported in this order: empty, a bad character (first from the left), a bad first
/// character, a bad last character, too long.
pub fn k8s_name(kfl_name: &str) -> Result<K8sName, K8sNameError> {
    let Some(first) = kfl_name.chars().next() else {
        return Err(K8sNameError::Empty);
    };
    for (byte_offset, found) in kfl_name.char_indices() {
        if found.is_ascii_uppercase() {
            return Err(K8sNameError::Uppercase { byte_offset, found, suggestion: suggest_k8s_name(kfl_name) });
        }
        if !(found.is_ascii_lowercase() || found.is_ascii_digit() || found == '_' || found == '-') {
            return Err(K8sNameError::InvalidCharacter { byte_offset, found, suggestion: suggest_k8s_name(kfl_name) });
        }
    }
    if !first.is_ascii_lowercase() {
        return Err(K8sNameError::BadStart { found: first, suggestion: suggest_k8s_name(kfl_name) });
    }
    if let Some(last) = kfl_name.chars().next_back() {
        if !(last.is_ascii_lowercase() || last.is_ascii_digit()) {
            return Err(K8sNameError::BadEnd { found: last, suggestion: suggest_k8s_name(kfl_name) });
        }
    }
    // Only ASCII is left, so bytes are characters.
    if kfl_name.len() > LABEL_MAX_LENGTH {
        return Err(K8sNameError::TooLong { length: kfl_name.len(), suggestion: suggest_k8s_name(kfl_name) });
    }
    Ok(K8sName(kfl_name.replace('_', "-")))
}

/// A valid name close to `kfl_name`: lowercased, other characters turned into single `-`,
/// leading and trailing `-` dropped, cut to 63 characters. `None` when nothing sensible is left
/// (empty, or starting with a digit: dropping digits would change the meaning).
fn suggest_k8s_name(kfl_name: &str) -> Option<K8sName> {
    let mut suggestion = String::new();
    for character in kfl_name.chars() {
        if character.is_ascii_alphanumeric() {
            suggestion.push(character.to_ascii_lowercase());
        } else if !suggestion.is_empty() && !suggestion.ends_with('-') {
            suggestion.push('-');
        }
    }
    let suggestion: String = suggestion.chars().take(LABEL_MAX_LENGTH).collect();
    let suggestion = suggestion.trim_end_matches('-');
    if !suggestion.starts_with(|first: char| first.is_ascii_lowercase()) {
        return None;
    }
    // Checked again rather than trusted: the suggestion must be a valid name.
    k8s_name(suggestion).ok()
}

// ---------------------------------------------------------------------------------------------
// Environment variable names
// ---------------------------------------------------------------------------------------------

/// An environment variable name must be a C identifier: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn check_env_name(name: &str) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err("an environment variable name cannot be empty".to_string());
    };
    if first.is_ascii_digit() {
        return Err(format!("environment variable `{name}` starts with a digit; start it with a letter or `_`"));
    }
    if let Some(bad) = name.chars().find(|character| !(character.is_ascii_alphanumeric() || *character == '_')) {
        return Err(format!("environment variable `{name}` contains `{bad}`; use only letters, digits and `_`"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Image references
// ---------------------------------------------------------------------------------------------

/// A checked Docker image reference: `[registry/]path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: Option<String>,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    /// The registry host, with its port if any: `ghcr.io`, `localhost:5000`.
    pub fn registry(&self) -> Option<&str> {
        self.registry.as_deref()
    }

    /// The repository path inside the registry: `library/python`, `org/team/trainer`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest with its algorithm: `sha256:…`.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// True when the reference does not fix the image: no tag and no digest, or the tag `latest`
    /// without a digest. A digest always pins the image, whatever the tag says.
    pub fn is_unpinned(&self) -> bool {
        self.digest.is_none() && self.tag.as_deref().is_none_or(|tag| tag == "latest")
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(formatter, "{registry}/")?;
        }
        formatter.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(formatter, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(formatter, "@{digest}")?;
        }
        Ok(())
    }
}

/// Checks a Docker image reference: optional registry `host[:port]/`, a path of lowercase
/// components (`[a-z0-9]+` joined by `.`, `_`, `__` or dashes) separated by `/`, an optional
/// `:tag` (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`) and an optional `@sha256:<64 hex>` digest.
///
/// As Docker does, the first path part is a registry when it contains `.` or `:` or is
/// `localhost` (or starts with `[`, an IPv6 address); unlike Docker, a first part with uppercase letters is not taken for a registry,
/// so `MyOrg/app` is reported as an uppercase repository.
pub fn check_image(reference: &str) -> Result<ImageRef, String> {
    if reference.is_empty() {
        return Err("an image reference cannot be empty".to_string());
    }
    if reference.chars().any(char::is_whitespace) {
        return Err(format!("image reference `{reference}` contains whitespace"));
    }
    let (name_and_tag, digest) = match reference.split_once('@') {
        Some((name_and_tag, digest)) => (name_and_tag, Some(digest)),
        None => (reference, None),
    };
    if let Some(digest) = digest {
        check_digest(digest)?;
    }
    // The tag follows the last `:` that comes after the last `/` (a `:` before it is a port).
    let last_slash = name_and_tag.rfind('/');
    let (name, tag) = match name_and_tag.rsplit_once(':') {
        Some((name, tag)) if last_slash.is_none_or(|slash| slash < name.len()) => (name, Some(tag)),
        _ => (name_and_tag, None),
    };
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    if name.is_empty() {
        return Err(format!("image reference `{reference}` has no repository name"));
    }
    if name.len() > IMAGE_NAME_MAX_LENGTH {
        return Err(format!("image name is {} characters long, more than {IMAGE_NAME_MAX_LENGTH}", name.len()));
    }
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first.starts_with('[') || first == "localhost" => {
            (Some(first), rest)
        }
        _ => (None, name),
    };
    if let Some(registry) = registry {
        check_registry(registry)?;
    }
    check_repository(repository)?;
    Ok(ImageRef {
        registry: registry.map(str::to_string),
        repository: repository.to_string(),
        tag: tag.map(str::to_string),
        digest: digest.map(str::to_string),
    })
}

fn check_digest(digest: &str) -> Result<(), String> {
    let expected_length = match digest.split_once(':') {
        Some(("sha256", _)) => 64,
        Some(("sha512", _)) => 128,
        _ => return Err(format!("image digest `{digest}` must be `sha256:` followed by 64 hex digits")),
    };
    let hex = digest.split_once(':').map_or("", |(_, hex)| hex);
    let is_lowercase_hex = hex.chars().all(|character| character.is_ascii_digit() || ('a'..='f').contains(&character));
    if hex.len() != expected_length || !is_lowercase_hex {
        return Err(format!("image digest `{digest}` must have {expected_length} lowercase hex digits after the `:`"));
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    let is_word = |character: char| character.is_ascii_alphanumeric() || character == '_';
    let Some(first) = tag.chars().next() else {
        return Err("image tag after `:` is empty".to_string());
    };
    if !is_word(first) {
        return Err(format!("image tag `{tag}` must start with a letter, digit or `_`"));
    }
    if let Some(bad) = tag.chars().find(|character| !(is_word(*character) || *character == '.' || *character == '-')) {
        return Err(format!("image tag `{tag}` contains `{bad}`; tags use letters, digits, `_`, `.` and `-`"));
    }
    if tag.len() > 128 {
        return Err(format!("image tag is {} characters long, more than 128", tag.len()));
    }
    Ok(())
}

fn check_registry(registry: &str) -> Result<(), String> {
    let (host, port) = match registry.strip_prefix('[') {
        // IPv6: `[::1]:5000`.
        Some(after_bracket) => match after_bracket.split_once(']') {
            Some((address, rest)) => {
                let is_ipv6 = !address.is_empty()
                    && address.chars().all(|character| character.is_ascii_hexdigit() || character == ':');
                if !is_ipv6 {
                    return Err(format!("image registry `{registry}` is not a valid IPv6 address"));
                }
                match rest {
                    "" => (None, None),
                    _ => match rest.strip_prefix(':') {
                        Some(port) => (None, Some(port)),
                        None => return Err(format!("image registry `{registry}` has text after the `]`")),
                    },
                }
            }
            None => return Err(format!("image registry `{registry}` has no closing `]`")),
        },
        None => match registry.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(registry), None),
        },
    };
    if let Some(host) = host {
        let valid_component = |component: &str| {
            !component.is_empty()
                && component.chars().all(|character| character.is_ascii_alphanumeric() || character == '-')
                && !component.starts_with('-')
                && !component.ends_with('-')
        };
        if !host.split('.').all(valid_component) {
            return Err(format!("image registry `{registry}` is not a valid host name"));
        }
    }
    if let Some(port) = port {
        if port.is_empty() || !port.chars().all(|character| character.is_ascii_digit()) {
            return Err(format!("image registry `{registry}` has a port that is not a number"));
        }
    }
    Ok(())
}

fn check_repository(repository: &str) -> Result<(), String> {
    if repository.chars().any(|character| character.is_ascii_uppercase()) {
        return Err(format!(
            "image repository `{repository}` has uppercase letters; write it in lowercase: `{}`",
            repository.to_ascii_lowercase()
        ));
    }
    for component in repository.split('/') {
        check_path_component(component).map_err(|why| format!("image repository `{repository}` {why}"))?;
    }
    Ok(())
}

/// `[a-z0-9]+` runs joined by one separator each: `.`, `_`, `__` or any number of `-`.
fn check_path_component(component: &str) -> Result<(), String> {
    if component.is_empty() {
        return Err("has an empty part between `/`".to_string());
    }
    if let Some(bad) = component.chars().find(|character| {
        !(character.is_ascii_lowercase() || character.is_ascii_digit() || matches!(character, '.' | '_' | '-'))
    }) {
        return Err(format!("contains `{bad}`"));
    }
    let is_separator = |character: char| matches!(character, '.' | '_' | '-');
    if component.starts_with(is_separator) || component.ends_with(is_separator) {
        return Err(format!("has a part `{component}` that does not start and end with a letter or digit"));
    }
    for separator in
        component.split(|character: char| character.is_ascii_alphanumeric()).filter(|separator| !separator.is_empty())
    {
        let allowed = matches!(separator, "." | "_" | "__") || separator.chars().all(|character| character == '-');
        if !allowed {
            return Err(format!("has `{separator}` in `{component}`; join words with `.`, `_`, `__` or `-`"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Labels
// ---------------------------------------------------------------------------------------------

/// A label (or annotation) key: an optional DNS-1123 subdomain prefix and `/`, then a name of at
/// most 63 characters: `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`.
pub fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Err(format!("label key `{key}` has an empty prefix before `/`"));
        }
        check_dns_subdomain(prefix).map_err(|why| format!("label key prefix `{prefix}` {why}"))?;
    }
    if name.contains('/') {
        return Err(format!("label key `{key}` has more than one `/`"));
    }
    if name.is_empty() {
        return Err(format!("label key `{key}` has an empty name"));
    }
    check_label_text(name).map_err(|why| format!("label key `{key}` {why}"))
}

/// A label value: empty, or at most 63 characters `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`.
pub fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    check_label_text(value).map_err(|why| format!("label value `{value}` {why}"))
}

/// The shared rule of label names and values, for a non-empty text. Returns the end of a message.
fn check_label_text(text: &str) -> Result<(), String> {
    if text.len() > LABEL_MAX_LENGTH {
        return Err(format!("is {} characters long, more than {LABEL_MAX_LENGTH}", text.len()));
    }
    if let Some(bad) =
        text.chars().find(|character| !(character.is_ascii_alphanumeric() || matches!(character, '-' | '_' | '.')))
    {
        return Err(format!("contains `{bad}`; use letters, digits, `-`, `_` and `.`"));
    }
    let alphanumeric = |character: char| character.is_ascii_alphanumeric();
    if !text.starts_with(alphanumeric) || !text.ends_with(alphanumeric) {
        return Err("must start and end with a letter or digit".to_string());
    }
    Ok(())
}

/// A DNS-1123 subdomain: at most 253 characters, dot-separated parts of lowercase letters, digits
/// and `-`, each starting and ending with a letter or digit. Returns the end of a message.
fn check_dns_subdomain(text: &str) -> Result<(), String> {
    if text.len() > SUBDOMAIN_MAX_LENGTH {
        return Err(format!("is {} characters long, more than {SUBDOMAIN_MAX_LENGTH}", text.len()));
    }
    if let Some(bad) = text.chars().find(|character| {
        !(character.is_ascii_lowercase() || character.is_ascii_digit() || matches!(character, '-' | '.'))
    }) {
        return Err(format!("contains `{bad}`; use lowercase letters, digits, `-` and `.`"));
    }
    let alphanumeric = |character: char| character.is_ascii_alphanumeric();
    let parts_are_valid = text.split('.').all(|part| part.starts_with(alphanumeric) && part.ends_with(alphanumeric));
    if !parts_are_valid {
        return Err("must be parts of letters and digits joined by `.`, each starting and ending with a \
             letter or digit"
            .to_string());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Python packages
// ---------------------------------------------------------------------------------------------

/// Why a package is not one requirement pip reads, if it is not: an option (`--index-url …` would
/// change where every package comes from), a line break (a second requirement), a control character,
/// an empty string, or a name pip refuses.
pub fn package_problem(package: &str) -> Option<String> {
    let spec = package.trim();
    if spec.is_empty() {
        return Some("is empty".to_string());
    }
    if spec.starts_with('-') {
        return Some("is a pip option, not a package".to_string());
    }
    if spec.chars().any(|c| c.is_control()) {
        return Some("holds a line break or a control character".to_string());
    }
    if is_url_like(spec) {
        return None;
    }
    let name_end = spec.find(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c))).unwrap_or(spec.len());
    let name = &spec[..name_end];
    if name.is_empty() {
        return Some("does not start with a package name".to_string());
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) || !name.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some(format!("has a name (`{name}`) that does not start and end with a letter or digit"));
    }
    let rest = spec[name_end..].trim_start();
    let rest = match rest.strip_prefix('[') {
        Some(extras) => match extras.split_once(']') {
            Some((inside, after)) => {
                let ok = inside.split(',').all(|e| {
                    !e.trim().is_empty() && e.trim().chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                });
                if !ok {
                    return Some(format!("has extras `[{inside}]` that are not names"));
                }
                after.trim_start()
            }
            None => return Some("opens `[` for extras and never closes it".to_string()),
        },
        None => rest,
    };
    let (versions, _marker) = match rest.split_once(';') {
        Some((v, m)) => (v, Some(m)),
        None => (rest, None),
    };
    let versions = versions.trim();
    if versions.starts_with('@') {
        return None;
    }
    let versions = versions.strip_prefix('(').and_then(|v| v.strip_suffix(')')).unwrap_or(versions);
    if versions.is_empty() {
        return None;
    }
    for clause in versions.split(',') {
        let clause = clause.trim();
        let Some(op) = ["===", "==", "!=", "~=", ">=", "<=", ">", "<"].into_iter().find(|op| clause.starts_with(op))
        else {
            return Some(format!("has `{clause}` where a version comparison (`==1.2`, `>=1`) belongs"));
        };
        let version = clause[op.len()..].trim();
        if version.is_empty() || !version.chars().all(|c| c.is_ascii_alphanumeric() || ".*+!-_".contains(c)) {
            return Some(format!("has `{clause}`, which compares with no valid version"));
        }
    }
    None
}

fn is_url_like(spec: &str) -> bool {
    ["git+", "hg+", "svn+", "bzr+", "https://", "http://", "file:", "./", "../", "/"]
        .iter()
        .any(|s| spec.starts_with(s))
}

/// Whether a pip requirement names exactly one version of a package.
///
/// Pinned: `pandas==2.2.1`, `pandas===2.2.1`, `pandas[excel]==2.2.1; python_version>"3.9"`, a
/// direct reference `pkg @ https://…/pkg-1.0.tar.gz`, and a version-control URL with a revision,
/// `git+https://github.com/org/repo@v1.2` (also as `pkg @ git+…@v1.2`).
/// Not pinned: `pandas`, `pandas>=2`, `pandas~=2.1`, `pandas==2.*`, and a version-control URL
/// without a revision (`git+https://github.com/org/repo`).
pub fn package_is_pinned(spec: &str) -> bool {
    // Environment markers come after `;`; a requirements-file comment after ` #`.
    let requirement = spec.split(';').next().unwrap_or_default();
    let requirement = requirement.split(" #").next().unwrap_or_default().trim();
    if requirement.is_empty() {
        return false;
    }
    if is_vcs_url(requirement) {
        return vcs_url_has_revision(requirement);
    }
    if let Some((_, url)) = requirement.split_once('@') {
        // PEP 508 direct reference: `name [extras] @ url`.
        let url = url.trim();
        return !url.is_empty() && (!is_vcs_url(url) || vcs_url_has_revision(url));
    }
    if is_archive(requirement) {
        return true;
    }
    version_is_exact(requirement)
}

fn is_vcs_url(text: &str) -> bool {
    ["git+", "hg+", "svn+", "bzr+"].iter().any(|scheme| text.starts_with(scheme))
}

/// A version-control URL is pinned by `@revision` after its last `/`, as in `…/repo.git@v1.2`
/// (an `@` in `git@github.com` is the user, not a revision).
fn vcs_url_has_revision(url: &str) -> bool {
    let without_fragment = url.split('#').next().unwrap_or_default();
    let after_scheme = without_fragment.split_once("://").map_or(without_fragment, |(_, rest)| rest);
    let last_part = after_scheme.rsplit('/').next().unwrap_or_default();
    last_part.split_once('@').is_some_and(|(_, revision)| !revision.is_empty())
}

/// A wheel or source archive named by URL or path: one fixed file.
fn is_archive(requirement: &str) -> bool {
    let looks_like_location =
        requirement.contains("://") || requirement.starts_with(['.', '/']) || requirement.starts_with("file:");
    let is_file =
        [".whl", ".tar.gz", ".tgz", ".tar.bz2", ".zip"].iter().any(|extension| requirement.ends_with(extension));
    looks_like_location && is_file
}

/// `name ==version` (or `===`), with a version that is not a wildcard like `2.*`.
fn version_is_exact(requirement: &str) -> bool {
    let Some((_, after)) = requirement.split_once("==") else {
        return false;
    };
    let after = after.strip_prefix('=').unwrap_or(after);
    let version = after.split([',', ')']).next().unwrap_or_default().trim();
    !version.is_empty() && !version.contains('*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> K8sName {
        match k8s_name(text) {
            Ok(name) => name,
            Err(error) => panic!("{text}: {error}"),
        }
    }

    fn suggestion_of(text: &str) -> Option<String> {
        match k8s_name(text) {
            Ok(name) => panic!("{text} is valid: {name}"),
            Err(error) => error.suggestion().map(|name| name.to_string()),
        }
    }

    fn image(text: &str) -> ImageRef {
        match check_image(text) {
            Ok(image) => image,
            Err(error) => panic!("{text}: {error}"),
        }
    }

    fn image_error(text: &str) -> String {
        match check_image(text) {
            Ok(image) => panic!("{text} is valid: {image:?}"),
            Err(error) => error,
        }
    }

    // ---- Kubernetes names ---------------------------------------------------------------------

    #[test]
    fn valid_names_turn_underscores_into_dashes() {
        assert_eq!(name("train").as_str(), "train");
        assert_eq!(name("train_model").as_str(), "train-model");
        assert_eq!(name("step_2").as_str(), "step-2");
        assert_eq!(name("a").as_str(), "a");
        assert_eq!(name("already-dashed").as_str(), "already-dashed");
        assert_eq!(name(&"a".repeat(63)).as_str().len(), 63);
        assert_eq!(name("x9").to_string(), "x9");
    }

    #[test]
    fn empty_name() {
        assert_eq!(k8s_name(""), Err(K8sNameError::Empty));
    }

    #[test]
    fn uppercase_names() {
        assert_eq!(
            k8s_name("trainModel"),
            Err(K8sNameError::Uppercase { byte_offset: 5, found: 'M', suggestion: Some(name("trainmodel")) })
        );
        assert_eq!(suggestion_of("Train"), Some("train".to_string()));
    }

    #[test]
    fn invalid_characters() {
        assert_eq!(
            k8s_name("train.model"),
            Err(K8sNameError::InvalidCharacter { byte_offset: 5, found: '.', suggestion: Some(name("train-model")) })
        );
        assert_eq!(
            k8s_name("café"),
            Err(K8sNameError::InvalidCharacter { byte_offset: 3, found: 'é', suggestion: Some(name("caf")) })
        );
        assert_eq!(suggestion_of("a..b"), Some("a-b".to_string()));
    }

    #[test]
    fn bad_start_and_end() {
        assert_eq!(k8s_name("2nd_step"), Err(K8sNameError::BadStart { found: '2', suggestion: None }));
        assert_eq!(k8s_name("_private"), Err(K8sNameError::BadStart { found: '_', suggestion: Some(name("private")) }));
        assert_eq!(k8s_name("-x"), Err(K8sNameError::BadStart { found: '-', suggestion: Some(name("x")) }));
        assert_eq!(k8s_name("train_"), Err(K8sNameError::BadEnd { found: '_', suggestion: Some(name("train")) }));
        assert_eq!(k8s_name("___"), Err(K8sNameError::BadStart { found: '_', suggestion: None }));
    }

    #[test]
    fn too_long_names() {
        let long = "a".repeat(64);
        assert_eq!(k8s_name(&long), Err(K8sNameError::TooLong { length: 64, suggestion: Some(name(&"a".repeat(63))) }));
        // Cutting must not leave a trailing dash.
        let long_with_dash_at_cut = format!("{}_{}", "a".repeat(62), "b".repeat(10));
        assert_eq!(suggestion_of(&long_with_dash_at_cut), Some("a".repeat(62)));
    }

    #[test]
    fn suggestions_are_always_valid_names() {
        for text in ["Train", "My__Model", "x.y.z", "_a_", "a-", "TRAIN_MODEL", "日本", "a日本", "Ab_", "a b"] {
            if let Err(error) = k8s_name(text) {
                if let Some(suggestion) = error.suggestion() {
                    assert_eq!(k8s_name(suggestion.as_str()).as_ref(), Ok(suggestion));
                }
            }
        }
        assert_eq!(suggestion_of("My__Model"), Some("my-model".to_string()));
        assert_eq!(suggestion_of("日本"), None);
    }

    #[test]
    fn name_messages_and_help() {
        let error = k8s_name("trainModel").err();
        assert_eq!(
            error.as_ref().map(|error| error.to_string()),
            Some("uppercase letter `M` in a name that must be lowercase for Kubernetes".to_string())
        );
        let help = error.map(|error| error.help()).unwrap_or_default();
        assert!(help.starts_with("use `trainmodel`;"), "{help}");
        assert!(!help.ends_with('.'));
        for text in ["", "A", "a.b", "1a", "a_", &"a".repeat(70)] {
            if let Err(error) = k8s_name(text) {
                let message = error.to_string();
                assert!(!message.ends_with('.'), "{message}");
                assert!(!error.help().ends_with('.'));
            }
        }
    }

    #[test]
    fn join_keeps_names_valid_and_short() {
        assert_eq!(name("pipeline").join(&name("train")).as_str(), "pipeline-train");
        let left = name(&"a".repeat(40));
        let right = name(&"b".repeat(40));
        let joined = left.join(&right);
        assert_eq!(joined.as_str().len(), 63);
        assert_eq!(k8s_name(joined.as_str()).as_ref(), Ok(&joined));
        let other = left.join(&name(&format!("{}c", "b".repeat(39))));
        assert_ne!(joined, other, "the hash keeps long names apart");
        // A dash at the cut is dropped before the hash.
        let dash_at_cut = name(&format!("{}-x", "a".repeat(53))).join(&right);
        assert!(!dash_at_cut.as_str().contains("--"), "{dash_at_cut}");
        assert_eq!(k8s_name(dash_at_cut.as_str()).as_ref(), Ok(&dash_at_cut));
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
    }

    // ---- environment variables ----------------------------------------------------------------

    #[test]
    fn env_names() {
        for valid in ["HOME", "_X", "a1", "MY_VAR_2", "_"] {
            assert_eq!(check_env_name(valid), Ok(()), "{valid}");
        }
        assert_eq!(check_env_name(""), Err("an environment variable name cannot be empty".to_string()));
        assert_eq!(
            check_env_name("1X"),
            Err("environment variable `1X` starts with a digit; start it with a letter or `_`".to_string())
        );
        assert_eq!(
            check_env_name("MY-VAR"),
            Err("environment variable `MY-VAR` contains `-`; use only letters, digits and `_`".to_string())
        );
        assert!(check_env_name("É").is_err());
        assert!(check_env_name("A B").is_err());
    }

    // ---- images -------------------------------------------------------------------------------

    #[test]
    fn simple_images() {
        let python = image("python");
        assert_eq!(python.registry(), None);
        assert_eq!(python.repository(), "python");
        assert_eq!(python.tag(), None);
        assert_eq!(python.digest(), None);
        assert!(python.is_unpinned());

        let tagged = image("python:3.12-slim");
        assert_eq!(tagged.tag(), Some("3.12-slim"));
        assert!(!tagged.is_unpinned());

        assert!(image("python:latest").is_unpinned());
        assert_eq!(image("library/python:3").repository(), "library/python");
    }

    #[test]
    fn images_with_registries() {
        let ghcr = image("ghcr.io/org/team/trainer:v1.2.3");
        assert_eq!(ghcr.registry(), Some("ghcr.io"));
        assert_eq!(ghcr.repository(), "org/team/trainer");
        assert_eq!(ghcr.tag(), Some("v1.2.3"));

        let local = image("localhost:5000/app");
        assert_eq!(local.registry(), Some("localhost:5000"));
        assert_eq!(local.repository(), "app");
        assert_eq!(local.tag(), None);

        let local_tagged = image("localhost:5000/app:dev");
        assert_eq!(local_tagged.registry(), Some("localhost:5000"));
        assert_eq!(local_tagged.tag(), Some("dev"));

        assert_eq!(image("localhost/app").registry(), Some("localhost"));
        assert_eq!(image("[::1]:5000/app").registry(), Some("[::1]:5000"));
        assert_eq!(
            image("123456789.dkr.ecr.eu-west-1.amazonaws.com/model:1").registry(),
            Some("123456789.dkr.ecr.eu-west-1.amazonaws.com")
        );
        // Without `.`, `:` or `localhost` the first part is a path, not a registry.
        let org = image("myorg/app");
        assert_eq!(org.registry(), None);
        assert_eq!(org.repository(), "myorg/app");
        // Registry host names may have uppercase letters.
        assert_eq!(image("Registry.Example.com/app").registry(), Some("Registry.Example.com"));
    }

    #[test]
    fn images_with_digests() {
        let hex = "a".repeat(64);
        let pinned = image(&format!("python@sha256:{hex}"));
        assert_eq!(pinned.digest(), Some(format!("sha256:{hex}").as_str()));
        assert_eq!(pinned.tag(), None);
        assert!(!pinned.is_unpinned());

        let both = image(&format!("ghcr.io/org/app:latest@sha256:{hex}"));
        assert_eq!(both.tag(), Some("latest"));
        assert!(!both.is_unpinned(), "a digest pins even `latest`");

        assert!(check_image(&format!("app@sha512:{}", "0".repeat(128))).is_ok());
        assert!(image_error("app@sha256:abc").contains("64 lowercase hex digits"));
        assert!(image_error(&format!("app@sha256:{}", "A".repeat(64))).contains("hex"));
        assert!(image_error(&format!("app@md5:{hex}")).contains("sha256"));
        assert!(image_error("app@").contains("sha256"));
        assert!(image_error(&format!("app@sha256:{hex}@sha256:{hex}")).contains("hex"));
    }

    #[test]
    fn image_display_round_trips() {
        let hex = "0123456789abcdef".repeat(4);
        for text in [
            "python".to_string(),
            "python:3.12".to_string(),
            "ghcr.io/org/app:v1".to_string(),
            "localhost:5000/a/b/c".to_string(),
            format!("reg.io:443/org/app:1.0@sha256:{hex}"),
        ] {
            let parsed = image(&text);
            assert_eq!(parsed.to_string(), text);
            assert_eq!(image(&parsed.to_string()), parsed);
        }
    }

    #[test]
    fn path_component_separators() {
        for valid in ["my_org/my.app", "org/app__v2", "org/my-app", "org/my--app", "a/b/c/d/e", "a1/2b"] {
            assert!(check_image(valid).is_ok(), "{valid}");
        }
        assert!(image_error("org/my___app").contains("`___`"));
        assert!(image_error("org/my._app").contains("`._`"));
        assert!(image_error("org/-app").contains("start and end"));
        assert!(image_error("org/app-").contains("start and end"));
        assert!(image_error("org//app").contains("empty part"));
        assert!(image_error("org/app/").contains("empty part"));
        assert!(image_error("org/ap+p").contains("contains `+`"));
    }

    #[test]
    fn image_errors() {
        assert_eq!(image_error(""), "an image reference cannot be empty".to_string());
        assert!(image_error("python 3").contains("whitespace"));
        assert!(image_error(" python").contains("whitespace"));
        assert_eq!(
            image_error("MyOrg/App:1"),
            "image repository `MyOrg/App` has uppercase letters; write it in lowercase: \
             `myorg/app`"
        );
        assert!(image_error("ghcr.io/Org/app").contains("uppercase"));
        assert!(image_error("python:").contains("tag after `:` is empty"));
        assert!(image_error("python:-x").contains("must start with"));
        assert!(image_error("python:a+b").contains("contains `+`"));
        assert!(image_error(&format!("python:{}", "a".repeat(129))).contains("more than 128"));
        assert!(check_image(&format!("python:{}", "a".repeat(128))).is_ok());
        assert!(image_error(":tag").contains("no repository name"));
        assert!(image_error("reg.io:abc/app").contains("port"));
        assert!(image_error("reg.io:/app").contains("port"));
        assert!(image_error("-reg.io/app").contains("host name"));
        assert!(image_error("reg..io/app").contains("host name"));
        assert!(image_error("[zz]/app").contains("IPv6"));
        assert!(image_error("[::1/app").contains("closing"));
        assert!(image_error("[::1]x/app").contains("after the `]`"));
        assert!(image_error(&format!("a/{}", "b".repeat(260))).contains("more than 255"));
        assert!(image_error("reg.io/").contains("empty part"));
        assert!(image_error("日本").contains("contains `日`"));
        for error in [image_error("x y"), image_error("A"), image_error("a:")] {
            assert!(!error.ends_with('.'), "{error}");
        }
    }

    // ---- labels -------------------------------------------------------------------------------

    #[test]
    fn label_keys() {
        for valid in ["app", "App.Name", "app_name-2", "kfl.dev/pipeline", "app.kubernetes.io/name", "a", "x/y"] {
            assert_eq!(check_label_key(valid), Ok(()), "{valid}");
        }
        assert_eq!(check_label_key(&"a".repeat(63)), Ok(()), "63 characters is the limit");
        assert!(check_label_key(&"a".repeat(64)).is_err_and(|error| error.contains("more than 63")));
        assert!(check_label_key("").is_err_and(|error| error.contains("empty name")));
        assert!(check_label_key("kfl.dev/").is_err_and(|error| error.contains("empty name")));
        assert!(check_label_key("/name").is_err_and(|error| error.contains("empty prefix")));
        assert!(check_label_key("a/b/c").is_err_and(|error| error.contains("more than one")));
        assert!(check_label_key("-app").is_err_and(|error| error.contains("start and end")));
        assert!(check_label_key("app.").is_err_and(|error| error.contains("start and end")));
        assert!(check_label_key("my app").is_err_and(|error| error.contains("contains ` `")));
        assert!(check_label_key("Kfl.dev/x").is_err_and(|error| error.contains("prefix")));
        assert!(check_label_key("kfl..dev/x").is_err_and(|error| error.contains("parts")));
        assert!(check_label_key("-kfl.dev/x").is_err_and(|error| error.contains("parts")));
        let long_prefix = format!("{}.dev/x", "a".repeat(250));
        assert!(check_label_key(&long_prefix).is_err_and(|error| error.contains("more than 253")));
        let max_prefix = format!("{}/x", "a".repeat(253));
        assert_eq!(check_label_key(&max_prefix), Ok(()));
    }

    #[test]
    fn label_values() {
        for valid in ["", "v1", "1.2.3", "a-b_c.d", "A", &"z".repeat(63)] {
            assert_eq!(check_label_value(valid), Ok(()), "{valid}");
        }
        assert!(check_label_value(&"z".repeat(64)).is_err());
        assert!(check_label_value("a/b").is_err_and(|error| error.contains("contains `/`")));
        assert!(check_label_value("_a").is_err_and(|error| error.contains("start and end")));
        assert!(check_label_value("a b").is_err());
        assert!(check_label_value("é").is_err());
    }

    // ---- packages -----------------------------------------------------------------------------

    #[test]
    fn pinned_packages() {
        for pinned in [
            "pandas==2.2.1",
            "pandas===2.2.1",
            "pandas == 2.2.1",
            "pandas[excel]==2.2.1",
            "pandas==2.2.1; python_version > \"3.9\"",
            "pandas==2.2.1  # data frames",
            "pandas>=2,==2.2.1",
            "pandas (==2.2.1)",
            "torch==2.3.0+cu121",
            "mypkg @ https://example.com/mypkg-1.0.tar.gz",
            "mypkg @ file:///wheels/mypkg-1.0-py3-none-any.whl",
            "mypkg@https://example.com/mypkg-1.0.zip",
            "mypkg @ git+https://github.com/org/repo@v1.2",
            "git+https://github.com/org/repo.git@4f2a9c1",
            "git+https://github.com/org/repo.git@v1.0#egg=repo",
            "git+ssh://git@github.com/org/repo.git@v1.0",
            "https://example.com/pkg-1.0-py3-none-any.whl",
            "./dist/pkg-1.0.tar.gz",
        ] {
            assert!(package_is_pinned(pinned), "{pinned}");
        }
    }

    #[test]
    fn unpinned_packages() {
        for unpinned in [
            "",
            "   ",
            "pandas",
            "pandas>=2",
            "pandas<=2",
            "pandas~=2.1",
            "pandas!=2.0",
            "pandas>2,<3",
            "pandas==2.*",
            "pandas==",
            "pandas[excel]",
            "; python_version > \"3.9\"",
            "git+https://github.com/org/repo",
            "git+https://github.com/org/repo.git#egg=repo",
            "git+ssh://git@github.com/org/repo.git",
            "mypkg @ git+https://github.com/org/repo",
            "mypkg @ ",
            "./local/dir",
        ] {
            assert!(!package_is_pinned(unpinned), "{unpinned:?}");
        }
    }
}
