//! The hexagon's rules, checked on the source: the domain is pure, and the app does not
//! name adapters.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

fn violations(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut found = Vec::new();
    for file in rust_files(&root) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for bad in forbidden {
                let path_use = format!("{bad}::");
                let bare_use = format!("use {bad};");
                if code.contains(&path_use) || code.contains(&bare_use) {
                    found.push(format!("{}:{}: `{bad}`: {code}", file.display(), n + 1));
                }
            }
        }
    }
    found
}

#[test]
fn the_domain_imports_nothing_async_or_io() {
    let v = violations(
        "src/domain",
        &[
            "tokio",
            "warp",
            "hyper",
            "reqwest",
            "diesel",
            "r2d2",
            "async_trait",
            "serde_json",
            "crate::adapters",
            "crate::app",
            "crate::ports",
        ],
    );
    assert!(v.is_empty(), "domain is not pure:\n{}", v.join("\n"));
}

#[test]
fn the_domain_has_no_async_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    for file in rust_files(&root) {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("async fn"),
            "{} has async code",
            file.display()
        );
    }
}

#[test]
fn ports_and_app_do_not_name_adapters_or_their_crates() {
    for dir in ["src/ports", "src/app"] {
        let v = violations(
            dir,
            &["crate::adapters", "warp", "reqwest", "diesel", "r2d2"],
        );
        assert!(
            v.is_empty(),
            "{dir} reaches into adapters:\n{}",
            v.join("\n")
        );
    }
}

/// Every reply is worded in `domain/reply.rs`, where user text goes through the one escaping
/// function: no other file builds a reply from text of its own.
#[test]
fn replies_are_built_only_where_user_text_is_escaped() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for file in rust_files(&root) {
        if file.ends_with("domain/reply.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if code.contains("Reply::new(") || code.contains("Reply {") && code.contains("markdown")
            {
                found.push(format!("{}:{}: {code}", file.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "replies built outside domain/reply.rs:\n{}",
        found.join("\n")
    );
}
