//! Shared by the test binaries: a real API server from `../shared/tools/k8s-testenv`, started by
//! the test itself and stopped when the test process exits (`KFL_TESTENV_WATCH_PID`) or explicitly.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use kfl_cluster::{ClusterArgs, ClusterError, Console, Origins, Pipeline};
use kfl_diagnostics::LineIndex;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Loads, checks and lowers a fixture's pipeline and sets `params`, as kflc does before it calls
/// this crate.
pub fn pipeline(name: &str, params: &[&str]) -> Pipeline {
    pipeline_of(name, None, params)
}

/// [`pipeline`] for the pipeline `pipeline` of a fixture with several.
pub fn pipeline_of(name: &str, pipeline: Option<&str>, params: &[&str]) -> Pipeline {
    let (db, file) = kfl_project::load_file(&fixture(name)).expect("the fixture loads");
    let program = kfl_check::model::program(&db, file, pipeline).expect("the fixture checks");
    let mut dag = kfl_dag::lower(&program).expect("the fixture lowers");
    let params: Vec<String> = params.iter().map(|p| p.to_string()).collect();
    kfl_dag::params::apply_params(&mut dag, &params).expect("the values fit");
    let given = params.iter().filter_map(|p| Some(p.split_once('=')?.0.to_string())).collect();
    Pipeline { dag, given, origins: Origins::of(&program), kfp: Default::default() }
}

/// Renders an error with `file:line:col` for each source place, from the files on disk.
pub fn render_with_lines(error: &ClusterError) -> String {
    let mut text = format!("error: {error}\n");
    for at in error.source_refs() {
        let source = std::fs::read_to_string(&*at.origin.file).expect("the source");
        let pos = LineIndex::new(&source).line_col(&source, at.origin.span.start as usize);
        text.push_str(&format!("  at {}:{}:{}: {}\n", at.origin.file, pos.line + 1, pos.column + 1, at.what));
    }
    text
}

fn tool() -> PathBuf {
    match std::env::var_os("KFL_TESTENV_TOOL") {
        Some(t) => PathBuf::from(t),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/k8s-testenv"),
    }
}

/// One running API server.
pub struct TestEnv {
    pub kubeconfig: PathBuf,
    pub dir: String,
}

impl TestEnv {
    /// Starts a new server (building it the first time), with or without Argo's Workflow CRD.
    pub fn start(with_crd: bool) -> TestEnv {
        let tool = tool();
        assert!(tool.exists(), "k8s-testenv not found at {} (set KFL_TESTENV_TOOL)", tool.display());
        let build = Command::new(&tool).arg("build").status().expect("run k8s-testenv build");
        assert!(build.success(), "k8s-testenv build failed");
        let mut text = String::new();
        for attempt in 1..=3 {
            let out = Command::new(&tool)
                .arg("start")
                .env("KFL_TESTENV_WATCH_PID", std::process::id().to_string())
                .output()
                .expect("run k8s-testenv start");
            if out.status.success() {
                text = String::from_utf8_lossy(&out.stdout).to_string();
                break;
            }
            assert!(attempt < 3, "k8s-testenv start failed: {}", String::from_utf8_lossy(&out.stderr));
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
        let var = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .map(|v| v.trim_matches('\'').to_string())
                .unwrap_or_else(|| panic!("no {name} in {text}"))
        };
        let env = TestEnv { kubeconfig: PathBuf::from(var("KUBECONFIG")), dir: var("KFL_TESTENV_DIR") };
        if with_crd {
            let ok = Command::new(&tool)
                .arg("install-argo-crd")
                .env("KFL_TESTENV_DIR", &env.dir)
                .env("KUBECONFIG", &env.kubeconfig)
                .status()
                .expect("run install-argo-crd");
            assert!(ok.success(), "install-argo-crd failed");
        }
        env
    }

    pub fn stop(&self) {
        let _ = Command::new(tool()).arg("stop").arg(&self.dir).status();
    }

    pub fn cluster(&self, namespace: &str) -> ClusterArgs {
        ClusterArgs { kubeconfig: Some(self.kubeconfig.clone()), context: None, namespace: Some(namespace.to_string()) }
    }
}

/// The server shared by the tests of one binary, with the Workflow CRD; it stops when the test
/// process exits.
pub fn shared() -> &'static TestEnv {
    static ENV: OnceLock<TestEnv> = OnceLock::new();
    ENV.get_or_init(|| TestEnv::start(true))
}

/// Runs a command with buffers for stdout and stderr: (exit code, stdout, stderr).
pub fn run(f: impl FnOnce(&mut Console) -> u8) -> (u8, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = f(&mut Console::new(&mut out, &mut err));
    (code, String::from_utf8_lossy(&out).to_string(), String::from_utf8_lossy(&err).to_string())
}
