//! The registry of diagnostic codes. A code is permanent: once released it keeps its meaning, and a
//! retired code is never given to another problem. Each code's documentation (what it means, a failing
//! example and a fixed one) lives in `docs/<CODE>.md` beside this crate; `kflc explain CODE` prints it
//! and the test suite checks both examples against the checker, or, for a code about the command line
//! ([`CodeInfo::command`]), runs both examples' commands.

use crate::Severity;

/// Everything there is to know about one code.
#[derive(Debug)]
pub struct CodeInfo {
    pub code: Code,
    /// `E0102` or `W0004`.
    pub id: &'static str,
    /// A short kebab-case name, e.g. `unresolved-name`.
    pub name: &'static str,
    pub severity: Severity,
    /// One line: what the problem is.
    pub summary: &'static str,
    /// Markdown: an explanation, a failing example and a fixed one.
    pub doc: &'static str,
}

impl CodeInfo {
    /// The ```` ```kfl ```` block after the `## {heading}` line of the documentation (`Example` for the
    /// failing one, `Fix` for the fixed one) as `(file name, text)` pairs: `// file: NAME` lines start
    /// a file; text before the first such line is `example.kfl`. The tests that run the examples
    /// through the checker and render them read the documentation through this, so both read it alike.
    pub fn example(&self, heading: &str) -> Option<Vec<(String, String)>> {
        let start = self.doc.find(&format!("## {heading}\n"))?;
        let rest = &self.doc[start..];
        let open = rest.find("```kfl\n")? + "```kfl\n".len();
        let close = rest[open..].find("\n```")? + open;
        let block = &rest[open..=close];
        let mut files: Vec<(String, String)> = Vec::new();
        for line in block.lines() {
            if let Some(name) = line.strip_prefix("// file:") {
                files.push((name.trim().to_string(), String::new()));
                continue;
            }
            if files.is_empty() {
                files.push(("example.kfl".to_string(), String::new()));
            }
            let last = files.last_mut()?;
            last.1.push_str(line);
            last.1.push('\n');
        }
        // Files that are not KFL (an image lock, a stand-in program) are blocks of their own in the
        // same section, fenced as ```` ```json file=NAME ```` or ```` ```sh file=NAME ````, so that
        // nothing reads them as KFL.
        let section = &rest[..rest[1..].find("\n## ").map_or(rest.len(), |i| i + 1)];
        for fence in ["```json file=", "```sh file="] {
            let mut from = 0;
            while let Some(at) = section[from..].find(fence) {
                let start = from + at + fence.len();
                let line_end = start + section[start..].find('\n')?;
                let name = section[start..line_end].trim().to_string();
                let close = line_end + 1 + section[line_end + 1..].find("```")?;
                files.push((name, section[line_end + 1..close].to_string()));
                from = close + 3;
            }
        }
        Some(files)
    }

    /// For a code about the command line rather than a file (E0219, a `--param` value): the
    /// arguments of the `$ kflc …` line in the ```` ```console ```` block of the `## {heading}`
    /// section, after `kflc`. The section's `kfl` files are then the project the command runs in,
    /// and the tests run the command instead of checking the files. Words are split as a shell
    /// splits them, with `'…'` quoting; a line that needs more of the shell (`"`, `\`, `$`, globs,
    /// redirections) is refused (`None`), so that what the tests run is what a reader who pastes it runs.
    pub fn command(&self, heading: &str) -> Option<Vec<String>> {
        let start = self.doc.find(&format!("## {heading}\n"))? + heading.len() + 4;
        let section = &self.doc[start..];
        let section = &section[..section.find("\n## ").unwrap_or(section.len())];
        let open = section.find("```console\n")? + "```console\n".len();
        let close = section[open..].find("\n```")? + open;
        let line = section[open..close].lines().find_map(|line| line.strip_prefix("$ kflc "))?;
        let mut words = Vec::new();
        let mut word: Option<String> = None;
        let mut quoted = false;
        for c in line.chars() {
            match c {
                '\'' => {
                    quoted = !quoted;
                    word.get_or_insert_with(String::new);
                }
                _ if quoted => word.get_or_insert_with(String::new).push(c),
                ' ' => words.extend(word.take()),
                '"' | '\\' | '$' | '`' | ';' | '&' | '|' | '<' | '>' | '(' | ')' | '*' | '?' | '[' | ']' | '{'
                | '}' | '~' | '#' | '\t' => return None,
                _ => word.get_or_insert_with(String::new).push(c),
            }
        }
        if quoted {
            return None;
        }
        words.extend(word);
        Some(words)
    }
}

macro_rules! codes {
    ($($variant:ident = $id:literal, $severity:ident, $name:literal, $summary:literal;)*) => {
        /// A permanent diagnostic code.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub enum Code {
            $($variant,)*
        }

        /// Every code, in the order of their ids.
        pub static ALL: &[CodeInfo] = &[
            $(CodeInfo {
                code: Code::$variant,
                id: $id,
                name: $name,
                severity: Severity::$severity,
                summary: $summary,
                doc: include_str!(concat!("../docs/", $id, ".md")),
            },)*
        ];

        impl Code {
            pub fn info(self) -> &'static CodeInfo {
                &ALL[self as usize]
            }
        }
    };
}

impl Code {
    pub fn id(self) -> &'static str {
        self.info().id
    }
    /// Finds a code by its id (`E0102`, case-insensitive) or its name (`unresolved-name`).
    pub fn lookup(text: &str) -> Option<Code> {
        ALL.iter().find(|info| info.id.eq_ignore_ascii_case(text) || info.name == text).map(|info| info.code)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

codes! {
    // Syntax
    SyntaxError = "E0001", Error, "syntax-error", "the text does not follow KFL's grammar";
    UnterminatedString = "E0002", Error, "unterminated-string", "a string literal has no closing quote";
    InvalidEscape = "E0003", Error, "invalid-escape", "a string contains an escape sequence KFL does not know";
    InvalidNumber = "E0004", Error, "invalid-number", "a number literal is malformed or out of range";

    // Names and declarations
    UnresolvedCallee = "E0101", Error, "unresolved-callee", "a task calls a component or pipeline that does not exist";
    UnresolvedName = "E0102", Error, "unresolved-name", "a name refers to no parameter, task or loop variable in scope";
    UnknownOutput = "E0103", Error, "unknown-output", "a task has no output of that name";
    UnknownArgument = "E0104", Error, "unknown-argument", "a call passes an argument the component does not take";
    DuplicateItem = "E0105", Error, "duplicate-item", "two components, pipelines or artifact types share a name";
    DuplicateMember = "E0106", Error, "duplicate-member", "a component declares an input or output name twice";
    DuplicateTask = "E0107", Error, "duplicate-task", "two tasks of a pipeline share a name";
    DuplicateArgument = "E0108", Error, "duplicate-argument", "a call passes the same argument twice";
    MissingArgument = "E0109", Error, "missing-argument", "a call leaves out an input that has no default";
    UnknownType = "E0110", Error, "unknown-type", "a type name is neither built in nor declared";
    UnknownField = "E0111", Error, "unknown-field", "a component, pipeline or task sets a field or block that does not exist";
    UnknownResource = "E0112", Error, "unknown-resource", "a resources block names a resource KFL does not know";
    DuplicateField = "E0113", Error, "duplicate-field", "a field or block entry is set twice";
    ImportNotFound = "E0114", Error, "import-not-found", "an imported file does not exist";
    ImportCycle = "E0115", Error, "import-cycle", "files import each other in a cycle";
    AmbiguousName = "E0116", Error, "ambiguous-name", "a name is defined in more than one imported file";
    UnknownArtifactProperty = "E0117", Error, "unknown-artifact-property", "an artifact has no property of that name";
    DuplicateParameter = "E0118", Error, "duplicate-parameter", "a pipeline declares a parameter twice";
    DuplicatePipelineOutput = "E0119", Error, "duplicate-pipeline-output", "a pipeline declares an output twice";
    PositionalArgument = "E0120", Error, "positional-argument", "a call passes an argument without its name";
    NotCallable = "E0121", Error, "not-callable", "something that is not a component or pipeline is called";
    CallInExpression = "E0122", Error, "call-in-expression", "a task call stands inside an expression";
    TaskUsedAsValue = "E0123", Error, "task-used-as-value", "a task is used where one of its outputs is meant";
    LoopVariableOutOfScope = "E0124", Error, "loop-variable-out-of-scope", "a loop variable is used outside its loop";
    ImportNotAllowed = "E0125", Error, "import-not-allowed", "an import names something other than a `.kfl` file inside the project root";
    UnreadableSource = "E0126", Error, "unreadable-source", "a source file cannot be read, is not a regular file, is larger than 16 MiB or is not UTF-8 text";

    // Types
    TypeMismatch = "E0201", Error, "type-mismatch", "an argument has the wrong type";
    DefaultTypeMismatch = "E0202", Error, "default-type-mismatch", "a default value does not have the declared type";
    ConditionNotBool = "E0203", Error, "condition-not-bool", "a condition is not a Bool";
    IncomparableTypes = "E0204", Error, "incomparable-types", "two values of types that cannot be compared are compared";
    LogicalOperandNotBool = "E0205", Error, "logical-operand-not-bool", "an operand of `and`, `or` or `not` is not a Bool";
    LoopOverNonList = "E0206", Error, "loop-over-non-list", "a `for` loop iterates over something that is not a list";
    MixedList = "E0207", Error, "mixed-list", "a list literal mixes elements of different types";
    InvalidArtifactBase = "E0208", Error, "invalid-artifact-base", "an artifact type extends something that is not an artifact type";
    ArtifactCycle = "E0209", Error, "artifact-cycle", "artifact types extend each other in a cycle";
    ArtifactDefault = "E0210", Error, "artifact-default", "an artifact input has a default value";
    FieldTypeMismatch = "E0212", Error, "field-type-mismatch", "a field is set to a value of the wrong type";
    BareArtifactInCommand = "E0213", Error, "bare-artifact-in-command", "an artifact stands in a command without `.path` or `.uri`";
    WrongTypeArity = "E0214", Error, "wrong-type-arity", "a type has the wrong number of type arguments";
    LossyIntToFloat = "E0215", Error, "lossy-int-to-float", "an integer is too large to be passed as a Float exactly";
    OutputTypeMismatch = "E0216", Error, "output-type-mismatch", "a pipeline output's value does not have its declared type";
    ConditionalOutputEscapes = "E0217", Error, "conditional-output-escapes", "an output of a task inside a condition is used outside it";
    UnsupportedOutputType = "E0218", Error, "unsupported-output-type", "a component output has a type a component cannot produce";
    ParamTypeMismatch = "E0219", Error, "param-type-mismatch", "a `--param` value on the command line does not have the parameter's declared type";
    MissingParamValue = "E0220", Error, "missing-param-value", "a pipeline parameter without a default is given no `--param` value by `kflc run` or `kflc apply`";

    // Pipelines and the graph
    DependencyCycle = "E0301", Error, "dependency-cycle", "tasks depend on each other in a cycle";
    AfterNonTask = "E0302", Error, "after-non-task", "`after` names something that is not a task";
    InvalidParallelism = "E0303", Error, "invalid-parallelism", "a loop's `parallel` limit is not a positive integer";
    EmptyLoop = "E0304", Error, "empty-loop", "a `for` loop iterates over an empty list";
    RecursivePipeline = "E0305", Error, "recursive-pipeline", "a pipeline calls itself, directly or through others";
    MisplacedFinally = "E0306", Error, "misplaced-finally", "`finally` is not at the top level of a pipeline, or appears twice";
    MissingBody = "E0307", Error, "missing-body", "a component has neither a script nor a command";
    ConflictingBody = "E0308", Error, "conflicting-body", "a component has more than one body";
    MissingImage = "E0309", Error, "missing-image", "a container component has no image";
    InvalidRetries = "E0310", Error, "invalid-retries", "`retries` is not an integer from 0 to 100";
    FieldNotAllowedHere = "E0311", Error, "field-not-allowed-here", "a field does not apply to this kind of component";

    // Resources and units
    InvalidQuantity = "E0401", Error, "invalid-quantity", "a quantity is not a valid Kubernetes quantity or duration";
    WrongUnit = "E0402", Error, "wrong-unit", "a quantity has a unit meant for another kind of value";
    InvalidGpuCount = "E0403", Error, "invalid-gpu-count", "a GPU count is not a whole number";
    NonPositiveResource = "E0404", Error, "non-positive-resource", "a resource or duration is zero or negative";
    LimitBelowRequest = "E0405", Error, "limit-below-request", "a resource limit is below its request";
    MissingUnit = "E0406", Error, "missing-unit", "a duration is written without a unit";

    // Kubernetes names and values
    InvalidK8sName = "E0501", Error, "invalid-k8s-name", "a name that becomes a Kubernetes name is not a valid DNS-1123 label";
    K8sNameCollision = "E0502", Error, "k8s-name-collision", "two names become the same Kubernetes name";
    InvalidEnvName = "E0503", Error, "invalid-env-name", "an environment variable name is not valid";
    InvalidImage = "E0504", Error, "invalid-image", "an image reference is malformed";
    InvalidLabelKey = "E0505", Error, "invalid-label-key", "a node selector or label key is not a valid Kubernetes label key";
    InvalidLabelValue = "E0506", Error, "invalid-label-value", "a string that becomes a Kubernetes label value (a node selector or label value, an accelerator) is not valid";
    InvalidPackage = "E0507", Error, "invalid-package", "a package is not one requirement pip can read";

    // Component images
    StaleImageLock = "E0601", Error, "stale-image-lock", "a component that installs packages has no image in the lock, or its image was built from other content";
    InvalidImageLock = "E0602", Error, "invalid-image-lock", "the image lock file cannot be read";
    ImageNotLocal = "E0603", Error, "image-not-local", "`kflc run` needs an image that is not on this machine, and a local run never pulls";
    NoContainerEngine = "E0604", Error, "no-container-engine", "`kflc run` needs a container engine, and neither podman nor docker answers";

    ContainerEngineUnavailable = "E0605", Error, "container-engine-unavailable", "no container engine can build the images: none is installed, the one asked for does not work, or it could not be started";
    ImageBuildFailed = "E0606", Error, "image-build-failed", "the container engine failed to build an environment's image, or did not finish within `--timeout`";
    ImagePushFailed = "E0607", Error, "image-push-failed", "the registry did not take an image: the push failed or did not finish within `--timeout`";
    // Local runs (`kflc run`)
    OverLocalBudget = "E0701", Error, "over-local-budget", "a task requests more CPU, memory or GPUs than `kflc run` may use";
    InvalidRunBudget = "E0702", Error, "invalid-run-budget", "a `--cpus`, `--memory` or `--gpus` value is not a budget this machine can give";
    CannotResume = "E0703", Error, "cannot-resume", "`kflc run --resume` has no run it can continue, or the run's parameters would change";

    // Warnings
    UnusedOutput = "W0001", Warning, "unused-output", "an output of a task is never read";
    UnusedTask = "W0002", Warning, "unused-task", "no task, condition or pipeline output uses a task's results";
    UnusedInput = "W0003", Warning, "unused-input", "a script component never mentions one of its inputs";
    UnusedParameter = "W0004", Warning, "unused-parameter", "a pipeline parameter is never used";
    UnusedImport = "W0005", Warning, "unused-import", "nothing from an imported file is used";
    MemoryWithoutUnit = "W0006", Warning, "memory-without-unit", "a memory amount has no unit and so means bytes";
    AcceleratorWithoutGpu = "W0007", Warning, "accelerator-without-gpu", "an accelerator is named but no GPU is requested";
    OutputNotSet = "W0008", Warning, "output-not-set", "a script never sets one of its outputs";
    UnusedLoopVariable = "W0009", Warning, "unused-loop-variable", "a loop variable is never used";
    RedundantAfter = "W0010", Warning, "redundant-after", "`after` names a task the task already depends on through data";
    ConstantCondition = "W0011", Warning, "constant-condition", "a condition is always true or always false";
    UnpinnedImage = "W0012", Warning, "unpinned-image", "an image has no tag or uses `latest`";
    UnpinnedPackage = "W0013", Warning, "unpinned-package", "a package is installed without a pinned version";
    OpenWorkflowParameter = "W0014", Warning, "open-workflow-parameter", "`kflc build --target argo` writes a Workflow whose parameter has no value: it needs `argo submit -p NAME=…`";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(doc: &'static str) -> CodeInfo {
        CodeInfo { code: Code::SyntaxError, id: "E0001", name: "x", severity: Severity::Error, summary: "", doc }
    }

    #[test]
    fn a_command_is_split_as_a_shell_splits_it() {
        let doc = "## Example\n\n```console\n$ kflc build a.kfl  --param 'xs=[1, \"a\"]' --param n=''\n```\n\n## Fix\n\ntext\n";
        let words = info(doc).command("Example").expect("a command");
        assert_eq!(words, ["build", "a.kfl", "--param", "xs=[1, \"a\"]", "--param", "n="]);
        // The command of one section is never taken from the next.
        assert_eq!(info(doc).command("Fix"), None);
    }

    #[test]
    fn an_example_takes_the_json_files_of_its_own_section() {
        let doc = "## Example\n\n```kfl\npipeline p() {}\n```\n\n```json file=kfl.lock\n{ \"a\": 1 }\n```\n\n## Fix\n\n```kfl\npipeline q() {}\n```\n";
        let example = info(doc).example("Example").expect("example");
        assert_eq!(
            example,
            [
                ("example.kfl".to_string(), "pipeline p() {}\n".to_string()),
                ("kfl.lock".into(), "{ \"a\": 1 }\n".into())
            ]
        );
        let fix = info(doc).example("Fix").expect("fix");
        assert_eq!(fix, [("example.kfl".to_string(), "pipeline q() {}\n".to_string())]);
    }

    #[test]
    fn a_command_that_needs_more_of_the_shell_is_refused() {
        for line in ["build a.kfl --param xs=[1]", "build \"a.kfl\"", "build 'a.kfl", "build $FILE", "build a > b"] {
            let doc = format!("## Example\n```console\n$ kflc {line}\n```\n");
            let doc: &'static str = Box::leak(doc.into_boxed_str());
            assert_eq!(info(doc).command("Example"), None, "{line}");
        }
    }
}
