//! Where `$FASTPATH_SIM_CONFIG` points (shared by build.rs and its test).
//!
//! Cargo runs build scripts in the package's directory (`sim/`), so a
//! relative path is taken from `$PWD`, the directory cargo was started in,
//! and the messages say so; an empty value is an error of its own.

use std::ffi::OsStr;
use std::path::PathBuf;

/// The board file `value` (the variable's value, if set) names, with how it
/// was resolved for messages (empty when it was absolute); `pwd` is `$PWD`.
pub fn resolve(
    value: Option<&OsStr>,
    pwd: Option<&OsStr>,
) -> Result<Option<(PathBuf, String)>, String> {
    let Some(v) = value else {
        return Ok(None);
    };
    if v.is_empty() {
        return Err(
            "FASTPATH_SIM_CONFIG is set but empty: unset it for the default geometry \
                    or name a board file (e.g. boards/default/geometry.toml)"
                .into(),
        );
    }
    let p = PathBuf::from(v);
    if p.is_absolute() {
        return Ok(Some((p, String::new())));
    }
    match pwd.map(PathBuf::from) {
        Some(base) if base.is_absolute() => Ok(Some((
            base.join(&p),
            format!(
                " `{}` (relative: resolved from {}, where cargo was started)",
                p.display(),
                base.display()
            ),
        ))),
        _ => Err(format!(
            "FASTPATH_SIM_CONFIG `{}` is relative and $PWD (where cargo was started) is not set: \
             give an absolute path",
            p.display()
        )),
    }
}
