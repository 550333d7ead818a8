// `embed_migrations!` does not notice when only SQL files change.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
