//! The shell script that gives an uploaded copy of the layer the layer's own metadata.
//!
//! The cloud vendors' upload calls write file contents only: every file gets the upload's time
//! and the sandbox's default mode, and a directory with no file in it is not made at all. An
//! agent that asks `ls -lt`, `find -newer catalog.yml` or `stat -c %y` would then read the
//! upload's order as the layer's history and believe it. After the upload, each cloud backend
//! runs this script once in the sandbox (`/bin/sh -c`, POSIX sh plus GNU `touch -d @SECONDS`), so
//! the copy has the layer's directories, modes and nanosecond modification times.

use std::collections::BTreeMap;

use crate::error::Error;
use crate::semantic::{CollectedLayer, FileTime};
use crate::shell::shell_quote;

/// The longest line the script holds: one `touch` or `chmod` of many paths is split into several
/// lines well below any `ARG_MAX`.
const MAX_LINE: usize = 16 * 1024;

/// The longest chunk (one `sh -c` argument, one request to the vendor).
const MAX_CHUNK: usize = 96 * 1024;

impl CollectedLayer {
    /// The script, in chunks to run one after the other with `/bin/sh -c`, that makes the copy
    /// of this layer uploaded under `root` match the layer. `root` is best given relative to
    /// the directory the chunks run in (`home/user/semantic`, run from `/`): the script then
    /// names nothing outside the sandbox's own tree even where only the working directory is
    /// mapped (the emulators). The script makes sure that
    /// every directory exists (empty ones included), every file and directory has its mode and
    /// its modification time to the nanosecond (the access time is set to the same instant, as a
    /// fresh copy's would be). Each chunk starts with `set -e` and a `cd` to the root, so the
    /// first failure ends it with a non-zero status and the tool's message on stderr.
    ///
    /// Order matters: directories are made first (making one changes its parent's time), then
    /// file modes, then every time, and directory modes last, children before parents, so a
    /// directory the layer keeps unsearchable cannot stop the steps before it.
    pub fn restore_script(&self, root: &str) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        let dirs: Vec<&str> = self.dirs.iter().map(|d| d.path.as_str()).collect();
        push_split(&mut lines, "mkdir -p --", dirs.iter().copied());

        let mut by_mode: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
        for f in &self.files {
            by_mode.entry(f.mode).or_default().push(&f.path);
        }
        for (mode, paths) in &by_mode {
            push_split(
                &mut lines,
                &format!("chmod {mode:o} --"),
                paths.iter().copied(),
            );
        }

        let mut by_time: BTreeMap<FileTime, Vec<&str>> = BTreeMap::new();
        for f in &self.files {
            by_time.entry(f.mtime).or_default().push(&f.path);
        }
        for d in self.dirs.iter().chain(&self.root) {
            by_time
                .entry(d.mtime)
                .or_default()
                .push(dir_operand(&d.path));
        }
        for (time, paths) in &by_time {
            let verb = format!("touch -c -d {} --", time.touch_arg());
            push_split(&mut lines, &verb, paths.iter().copied());
        }

        // Children before parents: reverse path order puts `a/b` before `a`.
        let dirs: Vec<_> = self.dirs.iter().rev().chain(&self.root).collect();
        let mut i = 0;
        while i < dirs.len() {
            let mode = dirs[i].mode;
            let run = dirs[i..].iter().take_while(|d| d.mode == mode).count();
            let paths = dirs[i..i + run].iter().map(|d| dir_operand(&d.path));
            push_split(&mut lines, &format!("chmod {mode:o} --"), paths);
            i += run;
        }

        chunks(root, &lines)
    }
}

/// The error of a [`CollectedLayer::restore_script`] chunk that did not exit 0 on `backend`:
/// `status` as the vendor reported it, `stderr` what the script printed, `image` what the
/// vendor calls the sandbox's image ("template", "image", "runtime").
pub fn restore_failed(backend: &'static str, status: &str, stderr: &str, image: &str) -> Error {
    Error::backend_failure(format!(
        "giving the uploaded semantic layer its directories, modes and file times failed \
         (exit {status}): {} (the {image} needs /bin/sh and GNU touch)",
        stderr.trim()
    ))
    .with_backend(backend)
}

/// A directory's operand: `.` for the root (its path is empty).
fn dir_operand(path: &str) -> &str {
    if path.is_empty() { "." } else { path }
}

/// Appends `verb 'p1' 'p2' ...` lines, as many as keep each under [`MAX_LINE`].
fn push_split<'a>(lines: &mut Vec<String>, verb: &str, paths: impl Iterator<Item = &'a str>) {
    let mut line = String::new();
    for p in paths {
        let quoted = shell_quote(p);
        if !line.is_empty() && line.len() + 1 + quoted.len() > MAX_LINE {
            lines.push(std::mem::take(&mut line));
        }
        if line.is_empty() {
            line.push_str(verb);
        }
        line.push(' ');
        line.push_str(&quoted);
    }
    if !line.is_empty() {
        lines.push(line);
    }
}

/// Packs lines into chunks under [`MAX_CHUNK`], each able to run on its own.
fn chunks(root: &str, lines: &[String]) -> Vec<String> {
    let q = shell_quote(root);
    let head = format!("set -e\nmkdir -p -- {q}\ncd -- {q}\n");
    let mut out = Vec::new();
    let mut chunk = head.clone();
    for l in lines {
        if chunk.len() > head.len() && chunk.len() + l.len() + 1 > MAX_CHUNK {
            out.push(std::mem::replace(&mut chunk, head.clone()));
        }
        chunk.push_str(l);
        chunk.push('\n');
    }
    out.push(chunk);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semantic::{CollectLimits, CollectedDir, CollectedFile, SemanticLayer};
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::Path;
    use std::time::{Duration, UNIX_EPOCH};

    fn file(path: &str, mode: u32, secs: i64, nanos: u32) -> CollectedFile {
        CollectedFile {
            path: path.into(),
            contents: b"x\n".to_vec(),
            mode,
            mtime: FileTime { secs, nanos },
        }
    }

    fn dir(path: &str, mode: u32, secs: i64) -> CollectedDir {
        CollectedDir {
            path: path.into(),
            mode,
            mtime: FileTime { secs, nanos: 0 },
        }
    }

    #[test]
    fn groups_by_mode_and_time_in_a_safe_order() {
        let layer = CollectedLayer {
            files: vec![
                file("a.yml", 0o644, 100, 5),
                file("d/b.yml", 0o644, 100, 5),
                file("d/run.sh", 0o755, 200, 0),
                file("it's.yml", 0o644, 300, 0),
            ],
            dirs: vec![dir("d", 0o500, 50), dir("empty", 0o755, 60)],
            root: Some(dir("", 0o755, 70)),
            ..Default::default()
        };
        let script = layer.restore_script("/home/user/semantic");
        assert_eq!(script.len(), 1);
        assert_eq!(
            script[0],
            "set -e\n\
             mkdir -p -- '/home/user/semantic'\n\
             cd -- '/home/user/semantic'\n\
             mkdir -p -- 'd' 'empty'\n\
             chmod 644 -- 'a.yml' 'd/b.yml' 'it'\\''s.yml'\n\
             chmod 755 -- 'd/run.sh'\n\
             touch -c -d @50.000000000 -- 'd'\n\
             touch -c -d @60.000000000 -- 'empty'\n\
             touch -c -d @70.000000000 -- '.'\n\
             touch -c -d @100.000000005 -- 'a.yml' 'd/b.yml'\n\
             touch -c -d @200.000000000 -- 'd/run.sh'\n\
             touch -c -d @300.000000000 -- 'it'\\''s.yml'\n\
             chmod 755 -- 'empty'\n\
             chmod 500 -- 'd'\n\
             chmod 755 -- '.'\n"
        );
    }

    #[test]
    fn a_failed_restore_names_the_step_the_tool_and_what_the_image_lacks() {
        let e = restore_failed("e2b", "1", "touch: invalid date '@1.5'\n", "template");
        let text = e.to_string();
        assert!(
            text.contains("modes and file times failed (exit 1)"),
            "{text}"
        );
        assert!(
            text.contains("touch: invalid date '@1.5' (the template needs"),
            "{text}"
        );
        assert_eq!(e.backend(), "e2b");
    }

    #[test]
    fn a_large_layer_is_split_into_bounded_chunks_that_each_stand_alone() {
        let files: Vec<_> = (0..20_000)
            .map(|i| file(&format!("entities/table_{i:05}.yml"), 0o644, i, 0))
            .collect();
        let layer = CollectedLayer {
            files,
            ..Default::default()
        };
        let script = layer.restore_script("/srv/semantic");
        assert!(script.len() > 1);
        for chunk in &script {
            assert!(chunk.len() <= MAX_CHUNK, "{}", chunk.len());
            assert!(
                chunk.starts_with("set -e\nmkdir -p -- '/srv/semantic'\ncd -- '/srv/semantic'\n")
            );
            assert!(chunk.lines().all(|l| l.len() <= MAX_LINE + 64));
        }
        let touches = script
            .iter()
            .flat_map(|c| c.lines())
            .filter(|l| l.starts_with("touch"))
            .count();
        assert_eq!(touches, 20_000);
    }

    /// Runs the script with the system's `sh` and GNU `touch` over a copy that has none of the
    /// layer's metadata, and compares what `stat` sees.
    #[test]
    #[allow(clippy::disallowed_types, clippy::disallowed_methods)] // runs the script with sh
    fn a_plain_copy_gets_the_layers_directories_modes_and_times() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("layer");
        std::fs::create_dir_all(src.join("entities")).unwrap();
        std::fs::create_dir_all(src.join("empty/inner")).unwrap();
        std::fs::write(src.join("catalog.yml"), "a: 1\n").unwrap();
        std::fs::write(src.join("entities/-orders.yml"), "b: 2\n").unwrap();
        std::fs::set_permissions(src.join("catalog.yml"), PermissionsExt::from_mode(0o600))
            .unwrap();
        let times = [
            ("catalog.yml", 1_735_690_200, 500_000_000),
            ("entities/-orders.yml", 1_735_690_200, 0),
            ("entities", 1_735_000_000, 0),
            ("empty/inner", 1_600_000_000, 123),
            ("empty", 1_500_000_000, 0),
            ("", 1_400_000_000, 999_999_999),
        ];
        for (p, s, n) in times {
            let f = std::fs::File::open(src.join(p)).unwrap();
            f.set_modified(UNIX_EPOCH + Duration::new(s, n)).unwrap();
        }
        let layer = SemanticLayer::open(&src)
            .unwrap()
            .collect(&CollectLimits::default())
            .unwrap();

        let dst = tmp.path().join("copy");
        std::fs::create_dir_all(dst.join("entities")).unwrap();
        for f in &layer.files {
            std::fs::write(dst.join(&f.path), &f.contents).unwrap();
        }
        for chunk in layer.restore_script(dst.to_str().unwrap()) {
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(&chunk)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let meta = |root: &Path, p: &str| {
            let m = std::fs::metadata(root.join(p)).unwrap();
            (
                m.mode() & 0o7777,
                m.mtime(),
                m.mtime_nsec(),
                m.atime(),
                m.atime_nsec(),
            )
        };
        for (p, _, _) in times {
            let (mode, s, n, _, _) = meta(&src, p);
            let (cmode, cs, cn, ca, can) = meta(&dst, p);
            assert_eq!((cmode, cs, cn), (mode, s, n), "{p:?}");
            assert_eq!((ca, can), (s, n), "{p:?}: atime");
        }
    }
}
