//! Credentials never reach the terminal: every message this crate prints goes through [`scrub`].
//!
//! What can hold a credential, and what is done about it:
//! - the kubeconfig files: before kube reads one, [`remember_kubeconfig`] scans its raw text (which
//!   may not even be YAML) for the values of credential keys (`token`, `password`, `client-key-data`,
//!   `id-token`, `refresh-token`, `access-token`, `client-secret`, an `Authorization` header, a
//!   `--token=…`-style argument of an exec plugin, an exec plugin's environment values); every later
//!   message has them replaced by `[redacted]`;
//! - a YAML error about a kubeconfig: kube quotes the lines around the error (the `token:` line among
//!   them). Only the first line is kept, and any `"…"` value in it is cut out;
//! - a failing exec credential plugin: kube's message holds its command line (arguments,
//!   environment) and everything it printed. Neither is shown; the exit status is;
//! - an exec plugin's output that is not an ExecCredential: kube quotes it. It is not shown;
//! - `Bearer …` and `Basic …` credentials and `Authorization:` headers anywhere in a message.
//!
//! An exec plugin's standard error is passed through to the terminal only when it may need to ask
//! something (its `interactiveMode` is `Always`, or `IfAvailable` and standard input is a terminal),
//! as kubectl does; otherwise it is captured, and then never shown ([`non_interactive_unless_tty`]).

use std::sync::Mutex;

/// What a message shows instead of a credential.
pub const REDACTED: &str = "[redacted]";

/// The credential values found in the kubeconfig files read so far.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The keys whose values are credentials, as kubeconfigs and auth providers spell them.
const SECRET_KEYS: &[&str] = &[
    "token",
    "password",
    "client-key-data",
    "client-key",
    "id-token",
    "refresh-token",
    "access-token",
    "client-secret",
    "authorization",
    "value",
];

/// Notes the credentials in the raw text of a kubeconfig, so that no later message shows them.
pub fn remember_kubeconfig(text: &str) {
    let found = secrets_in(text);
    if let Ok(mut secrets) = SECRETS.lock() {
        for s in found {
            if !secrets.contains(&s) {
                secrets.push(s);
            }
        }
    }
}

/// The credential values in a kubeconfig's text, found line by line so that a file that is not
/// valid YAML is scanned too: `KEY: VALUE` and `"KEY": "VALUE"` for the keys of [`SECRET_KEYS`]
/// (`value` only below an `env:` list, where exec plugins take their secrets), and `--token=VALUE`
/// or `--password VALUE` in an argument list.
fn secrets_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |value: &str| {
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'' || c == ',').trim();
        // Short values (`""`, `~`, `true`) would redact ordinary words.
        if value.chars().count() >= 4 {
            out.push(value.to_string());
        }
    };
    let mut in_env = false;
    let mut previous_flag = false;
    for line in text.lines() {
        let trimmed = line.trim().trim_start_matches("- ").trim();
        if trimmed.starts_with("env:") || trimmed.starts_with("\"env\":") {
            in_env = true;
        } else if trimmed.starts_with("args:") || trimmed.starts_with("command:") {
            in_env = false;
        }
        if let Some((key, value)) = trimmed.split_once(':') {
            let key = key.trim().trim_matches('"').to_ascii_lowercase();
            if SECRET_KEYS.contains(&key.as_str()) && (key != "value" || in_env) {
                push(value);
            }
        }
        // Exec plugin arguments, as a YAML list (`- --token=x`) or a flow list (`["--token", "x"]`).
        let words = trimmed.split(['[', ']', ',', ' ']).map(|w| w.trim_matches(|c| c == '"' || c == '\''));
        for word in words.filter(|w| !w.is_empty()) {
            if previous_flag {
                push(word);
                previous_flag = false;
            }
            let lower = word.to_ascii_lowercase();
            let flag = lower.trim_start_matches('-');
            if !lower.starts_with("--") {
                continue;
            }
            if let Some((name, value)) = flag.split_once('=') {
                if is_secret_flag(name) {
                    push(&word[word.len() - value.len()..]);
                }
            } else if is_secret_flag(flag) {
                previous_flag = true;
            }
        }
    }
    out
}

fn is_secret_flag(name: &str) -> bool {
    ["token", "password", "secret", "key", "credential"].iter().any(|s| name.contains(s))
}

/// A message as it may be printed: the remembered credentials replaced, an exec plugin's command
/// line and output dropped, a kubeconfig's quoted lines dropped, `Bearer`/`Basic` credentials and
/// `Authorization` headers replaced.
pub fn scrub(message: &str) -> String {
    let mut text = message.to_string();
    // kube: "auth exec command '<command line>' failed with status <status>: Output { … }".
    if let Some(start) = text.find("auth exec command '") {
        let status = text[start..]
            .find("failed with status ")
            .map(|at| {
                let rest = &text[start + at + "failed with status ".len()..];
                rest[..rest.find(": Output").unwrap_or(rest.len())].to_string()
            })
            .unwrap_or_else(|| "an error".to_string());
        text = format!(
            "{}the exec credential plugin failed ({status}); its command line and output are not shown, as they \
             may hold credentials: run the plugin yourself to see them",
            &text[..start]
        );
    }
    // kube: "failed to parse auth exec output: <error, with the output quoted>".
    if let Some(start) = text.find("failed to parse auth exec output") {
        text = format!(
            "{}the exec credential plugin printed something that is not an ExecCredential; it is not shown, as \
             it may hold credentials: run the plugin yourself to see it",
            &text[..start]
        );
    }
    // kube: "failed to parse kubeconfig YAML: <error>\n  --> <input>:17:15\n 16 | token: …".
    if text.contains("kubeconfig YAML") || text.contains("--> <input>") {
        let first = text.lines().next().unwrap_or_default();
        text = without_quoted_values(first);
    }
    if let Ok(secrets) = SECRETS.lock() {
        for secret in secrets.iter() {
            text = text.replace(secret.as_str(), REDACTED);
        }
    }
    redact_schemes(&text)
}

/// `"…"` values cut out of a serde message (`invalid type: string "…", expected …`); names, which
/// serde quotes with backticks, stay.
fn without_quoted_values(line: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in line.chars() {
        if c == '"' {
            if inside {
                out.push_str("…\"");
            } else {
                out.push('"');
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

/// `Bearer X`, `Basic X` and `Authorization: X` with X replaced.
fn redact_schemes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let lower = rest.to_ascii_lowercase();
        let next = ["bearer ", "basic ", "authorization: ", "authorization="]
            .iter()
            .filter_map(|p| lower.find(p).map(|at| (at, p.len())))
            .min();
        let Some((at, len)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at + len]);
        rest = &rest[at + len..];
        // `Authorization: Bearer X`: the scheme stays, and X is redacted on the next turn.
        let scheme = rest.to_ascii_lowercase();
        if scheme.starts_with("bearer ") || scheme.starts_with("basic ") {
            continue;
        }
        let end = rest.find(|c: char| c.is_whitespace() || "\"',;)}]".contains(c)).unwrap_or(rest.len());
        if end > 0 {
            out.push_str(REDACTED);
        }
        rest = &rest[end..];
    }
}

/// kubectl's rule for an exec plugin: it may use the terminal when its `interactiveMode` is
/// `Always`, or `IfAvailable` (the default) and standard input is a terminal. kube treats every mode
/// but `Never` as `Always`, and then the plugin's standard error goes straight to ours; this turns
/// `IfAvailable` into `Never` when there is no terminal, so that what the plugin prints is captured
/// (and, being possibly a credential, never shown).
pub fn non_interactive_unless_tty(kubeconfig: &mut kube::config::Kubeconfig, stdin_is_terminal: bool) {
    use kube::config::ExecInteractiveMode;
    for user in &mut kubeconfig.auth_infos {
        let Some(exec) = user.auth_info.as_mut().and_then(|a| a.exec.as_mut()) else { continue };
        let may_ask = match exec.interactive_mode {
            Some(ExecInteractiveMode::Always) => true,
            Some(ExecInteractiveMode::Never) => false,
            Some(ExecInteractiveMode::IfAvailable) | None => stdin_is_terminal,
        };
        if !may_ask {
            exec.interactive_mode = Some(ExecInteractiveMode::Never);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_values_are_found_in_text_that_is_not_yaml() {
        let text = "users:\n- name: u\n  user:\n    token: tok-1234\n    password: [unclosed\n    \
                    client-key-data: a2V5LWRhdGE=\n    exec:\n      args: [\"--token\", \"tok-5678\", \"--password=pw-9012\"]\n      \
                    env:\n      - name: SECRET\n        value: env-3456\n  \"id-token\": \"idt-7890\",\n";
        let found = secrets_in(text);
        for secret in ["tok-1234", "a2V5LWRhdGE=", "tok-5678", "pw-9012", "env-3456", "idt-7890"] {
            assert!(found.iter().any(|f| f == secret), "{secret} not found in {found:?}");
        }
        // Names and ordinary values are not secrets.
        assert!(!found.iter().any(|f| f == "SECRET" || f == "u"), "{found:?}");
    }

    #[test]
    fn schemes_and_headers_are_redacted() {
        assert_eq!(redact_schemes("sent Authorization: Bearer abc.def"), "sent Authorization: Bearer [redacted]");
        assert_eq!(redact_schemes("header \"authorization=xyz\""), "header \"authorization=[redacted]\"");
        assert_eq!(redact_schemes("Basic dXNlcjpwYXNz, then"), "Basic [redacted], then");
        assert_eq!(redact_schemes("no credentials here"), "no credentials here");
    }

    #[test]
    fn a_failing_exec_plugin_shows_its_status_only() {
        let kube = "auth error: auth exec command 'KUBERNETES_EXEC_INFO=\"{}\" \"sh\" \"-c\" \"echo s3cr3t-tok\"' failed \
                    with status exit status: 1: Output { status: ExitStatus(unix_wait_status(256)), stdout: \"s3cr3t-tok\", stderr: \"\" }";
        let shown = scrub(kube);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.starts_with("auth error: the exec credential plugin failed (exit status: 1)"), "{shown}");
        let parse = "auth error: failed to parse auth exec output: error: line 1 column 35: unclosed bracket\n --> \
                     <input>:1:35\n1 | {\"token\":\"s3cr3t-tok\"";
        let shown = scrub(parse);
        assert!(!shown.contains("s3cr3t") && shown.contains("not an ExecCredential"), "{shown}");
    }

    #[test]
    fn a_yaml_error_keeps_its_first_line_without_quoted_values() {
        let kube = "k: failed to parse kubeconfig YAML: error: line 3 column 1: invalid type: string \"s3cr3t-tok\", \
                    expected struct `AuthInfo`\n  --> <input>:3:1\n2 |   token: s3cr3t-tok";
        assert_eq!(
            scrub(kube),
            "k: failed to parse kubeconfig YAML: error: line 3 column 1: invalid type: string \"…\", expected struct `AuthInfo`"
        );
    }
}
