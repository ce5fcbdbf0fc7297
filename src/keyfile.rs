//! Private key files: written readable by their owner alone (0600), and refused by a
//! gateway when anyone else may read them, as ssh refuses a key others can read.

use std::io::Write as _;
use std::path::Path;

/// Writes `bytes` to `path` with mode 0600 (on Unix), replacing what was there.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    // An existing file keeps its mode on open: set it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)?;
    file.sync_all()
}

/// Checks that the private key file at `path` (`what`, for the message) can be read and
/// written by its owner alone; the error says which file and how to fix it.
pub fn check_private(path: &Path, what: &str) -> Result<(), String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{what} {} has mode {mode:04o}: users other than its owner may read it. \
                 Restrict it with `chmod 600 {}` (and make the gateway's user its owner)",
                path.display(),
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_key_is_private_and_a_world_readable_one_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        std::fs::write(&path, "old").unwrap();
        write_private(&path, b"secret").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
        check_private(&path, "signing key").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let why = check_private(&path, "signing key").unwrap_err();
            assert!(why.contains("0644") && why.contains("chmod 600"), "{why}");
            assert!(why.contains(&path.display().to_string()), "{why}");
        }
    }
}
