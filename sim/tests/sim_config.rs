//! How the build script resolves `$FASTPATH_SIM_CONFIG`.

#[path = "../build-support/sim_config.rs"]
mod sim_config;

use sim_config::resolve;
use std::ffi::OsStr;
use std::path::PathBuf;

#[test]
fn relative_paths_are_taken_from_where_cargo_was_started() {
    let os = |s: &'static str| Some(OsStr::new(s));
    assert_eq!(resolve(None, os("/w")), Ok(None));
    assert_eq!(
        resolve(os("/b/g.toml"), os("/w")),
        Ok(Some((PathBuf::from("/b/g.toml"), String::new())))
    );
    let (p, how) = resolve(os("boards/x.toml"), os("/work/repo"))
        .expect("resolves")
        .expect("set");
    assert_eq!(p, PathBuf::from("/work/repo/boards/x.toml"));
    assert_eq!(
        how,
        " `boards/x.toml` (relative: resolved from /work/repo, where cargo was started)"
    );
    let e = resolve(os(""), os("/w")).unwrap_err();
    assert!(e.starts_with("FASTPATH_SIM_CONFIG is set but empty"), "{e}");
    for pwd in [None, os("relative/dir")] {
        let e = resolve(os("x.toml"), pwd).unwrap_err();
        assert!(e.contains("is relative and $PWD"), "{e}");
    }
}
