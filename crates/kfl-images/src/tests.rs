use super::*;

fn program(text: &str) -> Program {
    let mut db = kfl_check::Database::default();
    let file = db.set_file("envs.kfl", text.to_string());
    kfl_check::model::program(&db, file, None).unwrap_or_else(|e| panic!("{text}\n{e}"))
}

const THREE: &str = r#"
component prepare {
    packages = ["pandas==2.2.3", "numpy==2.1.0"]
    output rows: Int
    python """
        rows = 3
    """
}

component train {
    input rows: Int
    packages = ["numpy==2.1.0", "pandas==2.2.3"]
    output model: Model
    python """
        open(model.path, "w").write(str(rows))
    """
}

component report {
    input model: Model
    image = "python:3.12-slim"
    packages = ["pandas==2.2.3", "numpy==2.1.0"]
    python """
        print(open(model.path).read())
    """
}

component plain {
    input model: Model
    python """
        print(model.path)
    """
}

pipeline p() {
    a = prepare()
    b = train(rows: a.rows)
    report(model: b.model)
    plain(model: b.model)
}
"#;

#[test]
fn components_with_the_same_base_and_packages_share_one_environment() {
    let envs = environments(&program(THREE), None);
    assert_eq!(envs.len(), 2, "{envs:#?}");
    let shared = envs.iter().find(|e| e.components.len() == 2).expect("a shared environment");
    let names: Vec<&str> = shared.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["prepare", "train"]);
    assert_eq!(shared.base, kfl_dag::DEFAULT_PYTHON_IMAGE);
    assert_eq!(shared.packages, ["numpy==2.1.0", "pandas==2.2.3"]);
    let other = envs.iter().find(|e| e.components.len() == 1).expect("report's environment");
    assert_eq!(other.base, "python:3.12-slim");
    assert_ne!(shared.hash, other.hash);
    // A component without packages needs no image of its own.
    assert!(envs.iter().all(|e| e.components.iter().all(|c| c.name != "plain")));
}

#[test]
fn the_tag_is_the_hash_prefix_and_the_hash_is_of_the_content_only() {
    let envs = environments(&program(THREE), None);
    let env = &envs[0];
    assert_eq!(env.hash.len(), 64);
    assert_eq!(env.tag(None), format!("localhost/kfl-env:{}", &env.hash[..16]));
    assert_eq!(env.tag(Some("127.0.0.1:5000/")), format!("127.0.0.1:5000/kfl-env:{}", &env.hash[..16]));
    // Order, repeats and spaces in the list do not change the hash; a version does.
    let a = hash("b:1", &["x==1".into(), "y==2".into()], None);
    assert_eq!(a, env_hash_of("b:1", &["y==2", " x==1", "y==2"]));
    assert_ne!(a, hash("b:1", &["x==1".into(), "y==3".into()], None));
    assert_ne!(a, hash("b:2", &["x==1".into(), "y==2".into()], None));
}

fn env_hash_of(base: &str, packages: &[&str]) -> String {
    let sorted: BTreeSet<String> = packages.iter().map(|p| p.trim().to_string()).collect();
    hash(base, &sorted.into_iter().collect::<Vec<_>>(), None)
}

#[test]
fn the_containerfile_installs_packages_from_a_requirements_file_and_labels_last() {
    let envs = environments(&program(THREE), None);
    let env = envs.iter().find(|e| e.components.len() == 2).expect("shared");
    let provenance = Provenance { source: "envs.kfl".into(), version: "0.1.0".into() };
    let text = containerfile(env, &provenance, PipSource::default()).expect("a containerfile");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], "FROM python:3.11-slim");
    assert_eq!(lines[2], "COPY requirements.txt /kfl/requirements.txt");
    assert_eq!(
        lines[3],
        r#"RUN ["python3", "-B", "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", "--no-warn-script-location", "--no-compile", "-r", "/kfl/requirements.txt"]"#
    );
    assert!(lines[4].starts_with("LABEL "), "{text}");
    assert!(text.contains(&format!("dev.kfl.env.hash=\"sha256:{}\"", env.hash)), "{text}");
    assert!(text.contains("dev.kfl.components=\"envs.kfl:prepare,envs.kfl:train\""), "{text}");
    assert!(text.contains("dev.kfl.source=\"envs.kfl\""), "{text}");
    assert!(text.contains("dev.kfl.version=\"0.1.0\""), "{text}");
    // Same input, same bytes.
    assert_eq!(text, containerfile(env, &provenance, PipSource::default()).expect("again"));
    assert_eq!(env.requirements().lines().skip(1).collect::<Vec<_>>(), ["numpy==2.1.0", "pandas==2.2.3"]);

    let offline = containerfile(env, &provenance, PipSource { find_links: true, no_index: true }).expect("offline");
    assert!(offline.contains("RUN --mount=type=bind,source=wheels,target=/kfl/wheels ["), "{offline}");
    assert!(offline.contains(r#""--no-index", "--find-links", "/kfl/wheels""#), "{offline}");
}

#[test]
fn label_values_cannot_end_the_line_or_the_quotes() {
    let env = Environment {
        hash: "a".repeat(64),
        base: "python:3.11-slim".into(),
        packages: vec!["x==1".into()],
        components: vec![ItemId { file: "we\"ird\\ $HOME\nLABEL x=1.kfl".into(), name: "c".into() }],
        kfp: None,
    };
    let provenance = Provenance { source: "a\"b\nRUN rm -rf /".into(), version: "0.1.0".into() };
    let text = containerfile(&env, &provenance, PipSource::default()).expect("a containerfile");
    assert!(!text.lines().any(|l| l.starts_with("RUN rm")), "{text}");
    assert!(text.contains(r#"dev.kfl.source="a\"b\\u{a}RUN rm -rf /""#), "{text}");
    assert!(text.contains(r#"we\"ird\\ \$HOME\\u{a}LABEL x=1.kfl:c"#), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("LABEL")).count(), 1);
}

#[test]
fn a_base_or_a_package_that_is_not_plain_is_refused() {
    let mut env = Environment {
        hash: "b".repeat(64),
        base: "python:3.11 AS x\nRUN id".into(),
        packages: vec!["x==1".into()],
        components: vec![],
        kfp: None,
    };
    let provenance = Provenance::default();
    assert!(matches!(containerfile(&env, &provenance, PipSource::default()), Err(ContainerfileError::BadBase(_))));
    env.base = "python:3.11-slim".into();
    for bad in [
        "--index-url=http://evil/simple",
        "pandas==2\n--extra-index-url x",
        "pan das==1",
        "pandas=2",
        "pandas==",
        "[x]==1",
        "-e .",
    ] {
        env.packages = vec![bad.into()];
        assert!(
            matches!(
                containerfile(&env, &provenance, PipSource::default()),
                Err(ContainerfileError::BadPackage { .. })
            ),
            "{bad:?} is accepted"
        );
    }
    for good in [
        "pandas==2.2.3",
        "scikit-learn>=1.5,<2",
        "requests[socks,security]==2.32.3",
        "torch==2.5.1+cpu",
        "numpy==2.1.0; python_version >= \"3.10\"",
        "kfl-demo @ file:///wheels/kfl_demo-1.0-py3-none-any.whl",
        "git+https://example.org/org/repo.git@v1.2",
        "pandas",
    ] {
        assert_eq!(package_problem(good), None, "{good}");
    }
}

fn locked_for(env: &Environment, digest: Option<&str>) -> Locked {
    Locked {
        hash: env.hash.clone(),
        base: env.base.clone(),
        packages: env.packages.clone(),
        image: env.tag(Some("127.0.0.1:5000")),
        digest: digest.map(str::to_string),
        id: Some("0123".into()),
        containerfile: "c".repeat(64),
        components: env.components.iter().map(component_key).collect(),
        kfp: env.kfp.clone(),
    }
}

#[test]
fn the_lock_reads_back_what_it_writes() {
    let envs = environments(&program(THREE), None);
    let mut lock = Lock::default();
    for env in envs.iter().rev() {
        lock.insert(locked_for(env, Some(&format!("sha256:{}", "d".repeat(64)))));
    }
    let text = lock.to_text();
    assert_eq!(Lock::parse(&text), Ok(lock.clone()));
    // Entries are ordered by hash whatever the order of insertion.
    let mut again = Lock::default();
    for env in &envs {
        again.insert(locked_for(env, Some(&format!("sha256:{}", "d".repeat(64)))));
    }
    assert_eq!(again.to_text(), text);
    for (bad, why) in [
        ("{", "not JSON"),
        ("{\"environments\": []}", "no `kfl_lock`"),
        ("{\"kfl_lock\": 2, \"environments\": []}", "version 2"),
        ("{\"kfl_lock\": 1}", "no `environments`"),
        ("{\"kfl_lock\": 1, \"environments\": [{\"hash\": \"sha256:12\"}]}", "64 hex digits"),
    ] {
        let error = Lock::parse(bad).expect_err(bad);
        assert!(error.contains(why), "{bad}: {error}");
    }
}

#[test]
fn resolve_gives_each_component_its_image_and_names_stale_or_missing_ones() {
    let program = program(THREE);
    let envs = environments(&program, None);
    let digest = format!("sha256:{}", "e".repeat(64));
    let mut lock = Lock::default();
    for env in &envs {
        lock.insert(locked_for(env, Some(&digest)));
    }
    let images = resolve(&program, &lock, "kfl.lock", None).expect("all locked");
    assert_eq!(images.len(), 3);
    assert!(images
        .values()
        .all(|i| i.reference.ends_with(&format!("@{digest}")) && i.reference.starts_with("127.0.0.1:5000/kfl-env:")));

    // `report` moves to another version of pandas: its entry is stale, the others still resolve.
    let changed = program_text_with(THREE, "report", "pandas==2.2.3", "pandas==2.2.4");
    let changed = self::program(&changed);
    let errors = resolve(&changed, &lock, "kfl.lock", None).expect_err("stale");
    assert_eq!(errors.len(), 1);
    let (file, d) = &errors[0];
    assert_eq!(&**file, "envs.kfl");
    assert_eq!(d.code, Code::StaleImageLock);
    assert_eq!(d.message, "the image of `report` in kfl.lock is stale");
    assert!(d.primary.message.contains("adds pandas==2.2.4; drops pandas==2.2.3"), "{}", d.primary.message);
    let text = THREE;
    let at = text.find("component report").expect("report") + "component ".len();
    assert_eq!(d.primary.span.range(), at..at + "report".len());

    // An empty lock: every component with packages is named, none falls back to pip.
    let errors = resolve(&program, &Lock::default(), "kfl.lock", None).expect_err("missing");
    let names: Vec<&str> = errors.iter().map(|(_, d)| d.message.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.iter().all(|m| m.ends_with("has no image in kfl.lock")), "{names:?}");
}

fn program_text_with(text: &str, component: &str, from: &str, to: &str) -> String {
    let start = text.find(&format!("component {component}")).expect("component");
    let end = start + text[start..].find("\n}\n").expect("end");
    format!("{}{}{}", &text[..start], text[start..end].replace(from, to), &text[end..])
}

#[test]
fn apply_to_dag_sets_the_image_and_drops_the_packages() {
    let mut db = kfl_check::Database::default();
    let file = db.set_file("envs.kfl", THREE.to_string());
    let program = kfl_check::model::program(&db, file, None).expect("program");
    let mut dag = kfl_dag::lower(&program).expect("dag");
    let mut lock = Lock::default();
    for env in environments(&program, None) {
        lock.insert(locked_for(&env, None));
    }
    let images = resolve(&program, &lock, "kfl.lock", None).expect("locked");
    apply_to_dag(&mut dag, &images);
    for component in &dag.components {
        if component.name == "plain" {
            assert_eq!(component.image, kfl_dag::DEFAULT_PYTHON_IMAGE);
        } else {
            assert!(component.image.starts_with("127.0.0.1:5000/kfl-env:"), "{}", component.image);
            assert!(component.packages.is_empty());
        }
    }
}

#[test]
fn the_kfp_runtime_is_its_own_layer_and_part_of_the_hash() {
    let program = program(THREE);
    let plain = environments(&program, None);
    let with = environments(&program, Some("kfp==2.17.3"));
    assert_eq!(plain.len(), with.len());
    assert!(plain.iter().all(|a| with.iter().all(|b| a.hash != b.hash)));
    let env = &with[0];
    let text = containerfile(env, &Provenance::default(), PipSource::default()).expect("containerfile");
    let runs: Vec<&str> = text.lines().filter(|l| l.starts_with("RUN ")).collect();
    assert_eq!(runs.len(), 2, "{text}");
    assert!(runs[1].ends_with(r#""--no-deps", "kfp==2.17.3"]"#), "{text}");

    // A lock built with kfp serves both targets; one without still resolves, without kfp.
    let mut lock = Lock::default();
    for env in &with {
        lock.insert(locked_for(env, None));
    }
    let images = resolve(&program, &lock, "kfl.lock", Some("kfp==2.17.3")).expect("with kfp");
    assert!(images.values().all(|i| i.has_kfp));
    assert_eq!(Lock::parse(&lock.to_text()), Ok(lock));
    let mut lock = Lock::default();
    for env in &plain {
        lock.insert(locked_for(env, None));
    }
    let images = resolve(&program, &lock, "kfl.lock", Some("kfp==2.17.3")).expect("without kfp");
    assert!(images.values().all(|i| !i.has_kfp));
}
