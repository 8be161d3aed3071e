//! The sample game (`games/sample`: C and SDL2) as the build of `serve --demo`'s application:
//! its source is in the binary, and it is compiled once into the local S3 root with the
//! machine's C compiler and Debian's `libsdl2-dev`, so that a newcomer's first session shows
//! a real game.

use std::path::Path;
use std::process::Command;

/// The sample game's source.
const GAME_C: &str = include_str!("../../../../games/sample/game.c");

/// Its launch script.
const RUN_GAME: &str = include_str!("../../../../games/sample/run-game.sh");

/// Where the demo's build is, in the local S3 root.
pub const DEMO_URI: &str = "s3://gameliftstreams-local-demo/sample-game/";

/// Build the sample game into `<s3 root>/gameliftstreams-local-demo/sample-game/` (once: a
/// build already there is kept); its `s3://` URI, or why it cannot be built here.
pub fn install(s3_root: &Path) -> Result<String, String> {
    let dir = s3_root.join("gameliftstreams-local-demo").join("sample-game");
    if dir.join("bin").join("game").is_file() && dir.join("run-game.sh").is_file() {
        return Ok(DEMO_URI.to_string());
    }
    let cc = super::find_on_path("cc").ok_or("no C compiler (cc) on PATH")?;
    let sdl = super::find_on_path("sdl2-config").ok_or("no SDL2 (Debian: apt-get install libsdl2-dev)")?;
    let flags = Command::new(&sdl)
        .args(["--cflags", "--libs"])
        .output()
        .map_err(|e| format!("{}: {e}", sdl.display()))?;
    let flags = String::from_utf8_lossy(&flags.stdout).to_string();
    let work = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("bin")).map_err(|e| e.to_string())?;
    let source = work.join("game.c");
    std::fs::write(&source, GAME_C).map_err(|e| e.to_string())?;
    let built = Command::new(&cc)
        .arg("-O2")
        .arg("-o")
        .arg(work.join("bin").join("game"))
        .arg(&source)
        .args(flags.split_whitespace())
        .args(["-lm", "-lpthread"])
        .output()
        .map_err(|e| format!("{}: {e}", cc.display()))?;
    if !built.status.success() {
        let _ = std::fs::remove_dir_all(&work);
        return Err(format!(
            "the sample game did not compile: {}",
            String::from_utf8_lossy(&built.stderr).trim()
        ));
    }
    std::fs::remove_file(&source).map_err(|e| e.to_string())?;
    let script = work.join("run-game.sh");
    std::fs::write(&script, RUN_GAME).map_err(|e| e.to_string())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&work, &dir).map_err(|e| e.to_string())?;
    Ok(DEMO_URI.to_string())
}
