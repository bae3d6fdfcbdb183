//! Top-level items and imports: names declared twice or shadowing a built-in, item names that
//! become Kubernetes names, imports that are missing, repeated, cyclic or unused.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::Arc;

use kfl_diagnostics::{escape_control as escape_for_message, Code, Diagnostic, Label, Span};
use kfl_syntax::ast::{self, Ident};

use crate::check::helpers::help_did_you_mean;
use crate::check::Checker;
use crate::items::{file_exports, file_imports, imported_files};
use crate::types::{BUILTIN_ARTIFACTS, PARAMETER_TYPES};
use crate::{k8s, Db, SourceFile};

impl Checker<'_> {
    pub(super) fn check_items(&mut self, file: &ast::File) {
        let mut seen: HashMap<&str, &Ident> = HashMap::default();
        for item in &file.items {
            let Some(name) = item.name() else { continue };
            if let Some(first) = seen.get(name.text.as_str()) {
                self.push(
                    Diagnostic::new(Code::DuplicateItem, name.span, format!("`{}` is defined twice", name.text))
                        .label("defined again here")
                        .secondary(Label::new(first.span, "first defined here"))
                        .help("rename one of them"),
                );
                continue;
            }
            seen.insert(&name.text, name);
            let is_artifact = matches!(item, ast::Item::Artifact(_));
            if BUILTIN_ARTIFACTS.contains(&name.text.as_str())
                || PARAMETER_TYPES.contains(&name.text.as_str())
                || name.text == "secret"
            {
                self.push(
                    Diagnostic::new(
                        Code::DuplicateItem,
                        name.span,
                        format!("`{}` is already a built-in name", name.text),
                    )
                    .label("shadows a built-in")
                    .help("choose another name"),
                );
                continue;
            }
            if !is_artifact {
                self.check_k8s_name(name, "component and pipeline names");
            }
        }
    }

    pub(super) fn check_k8s_name(&mut self, name: &Ident, what: &str) {
        if let Err(error) = k8s::k8s_name(&name.text) {
            let mut d = Diagnostic::new(
                Code::InvalidK8sName,
                name.span,
                format!("`{}` cannot become a Kubernetes name: {error}", name.text),
            )
            .label("not a valid DNS-1123 label once `_` becomes `-`");
            d = d.help(match error.suggestion() {
                Some(s) => format!("{what} become Kubernetes names; try `{}`", s.as_str().replace('-', "_")),
                None => format!("{what} become Kubernetes names: lowercase letters, digits and `_`, starting with a letter, at most 63 characters"),
            });
            self.push(d);
        }
    }

    pub(super) fn check_imports(&mut self, file: &ast::File) {
        let imports = file_imports(self.db, self.file);
        let project_paths: Vec<Arc<str>> = self.db.project().files(self.db).keys().cloned().collect();
        let mut seen: HashMap<SourceFile, Span> = HashMap::default();
        for import in imports {
            if let Some(target) = import.file {
                if let Some(first) = seen.get(&target) {
                    self.push(
                        Diagnostic::new(
                            Code::UnusedImport,
                            import.span,
                            format!("`{}` is already imported", import.path),
                        )
                        .label("imported again here")
                        .secondary(Label::new(*first, "first imported here"))
                        .help("remove this import"),
                    );
                    continue;
                }
                seen.insert(target, import.span);
            }
            match import.file {
                None if !crate::is_importable_name(&import.path) => self.push(
                    Diagnostic::new(
                        Code::ImportNotAllowed,
                        import.span,
                        format!("`{}` is not a `.kfl` file", escape_for_message(&import.path)),
                    )
                    .label("only `.kfl` files can be imported")
                    .help("import the `.kfl` file that declares what you need; other files are never read"),
                ),
                None if self.db.project().refused(self.db).contains_key(&import.path) => {
                    let refused = &self.db.project().refused(self.db)[&import.path];
                    self.push(
                        Diagnostic::new(refused.code, import.span, refused.message.clone()).label("not read").help(
                            match refused.code {
                                Code::ImportNotAllowed => {
                                    "move the file into the project, or name its folder with `--import-root`"
                                }
                                _ => "import a regular `.kfl` file of UTF-8 text, at most 16 MiB",
                            },
                        ),
                    );
                }
                None => {
                    let candidates: Vec<&str> = project_paths.iter().map(|p| &**p).collect();
                    let help = help_did_you_mean(&import.path, candidates.iter().copied()).unwrap_or_else(|| {
                        "paths are relative to the importing file; a module path `a.b` means `a/b.kfl`".to_string()
                    });
                    self.push(
                        Diagnostic::new(Code::ImportNotFound, import.span, format!("cannot find `{}`", import.path))
                            .label("no such file")
                            .help(help),
                    );
                }
                Some(target) if target == self.file => self.push(
                    Diagnostic::new(Code::ImportCycle, import.span, "a file imports itself")
                        .label("this is the file itself")
                        .help("remove this import"),
                ),
                Some(target) => {
                    if let Some(chain) = import_cycle(self.db, self.file, target) {
                        let names: Vec<String> = chain.iter().map(|f| f.path(self.db).to_string()).collect();
                        self.push(
                            Diagnostic::new(Code::ImportCycle, import.span, "files import each other in a cycle")
                                .label(format!("cycle: {} → {}", self.path, names.join(" → ")))
                                .help("move what both files need into a third file that imports neither"),
                        );
                    }
                }
            }
        }
        // Names declared in two imported files are reported where they are used; names declared
        // here and imported too simply shadow the import.
        let _ = file;
    }

    pub(super) fn check_unused_imports(&mut self) {
        let imports = file_imports(self.db, self.file);
        let mut reported = HashSet::default();
        for import in imports {
            let Some(target) = import.file else { continue };
            if target == self.file || self.used_imports.contains(&target) || !reported.insert(target) {
                continue;
            }
            if file_exports(self.db, target).items.is_empty() {
                continue;
            }
            self.push(
                Diagnostic::new(Code::UnusedImport, import.span, format!("nothing from `{}` is used", import.path))
                    .label("unused import")
                    .help("remove the import"),
            );
        }
    }
}

/// The chain of files from `start` back to `origin`, if `start` (imported by `origin`) leads back.
fn import_cycle(db: &dyn Db, origin: SourceFile, start: SourceFile) -> Option<Vec<SourceFile>> {
    let mut stack: Vec<(SourceFile, Vec<SourceFile>)> = vec![(start, vec![start])];
    let mut seen = HashSet::default();
    while let Some((file, chain)) = stack.pop() {
        if !seen.insert(file) {
            continue;
        }
        for &next in imported_files(db, file) {
            if next == origin {
                let mut chain = chain.clone();
                chain.push(origin);
                return Some(chain);
            }
            let mut longer = chain.clone();
            longer.push(next);
            stack.push((next, longer));
        }
    }
    None
}
