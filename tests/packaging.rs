//! The desktop packaging under `packaging/` and `Packager.toml`: the Linux files pass the distributions'
//! own validators, the icons are the sizes their directories claim, and every file names the same app id,
//! binary and version, so a rename in one place cannot leave a menu entry that launches nothing.
//!
//! The validators come from Debian's `desktop-file-utils` and `appstream` packages. Where one is missing
//! the test says so loudly and skips, unless `CI` is set (`.ci/run` installs both), where a skip would hide
//! a broken file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

const ID: &str = "io.github.sockchat.Sockchat";
/// The hicolor sizes we ship, each as `NxN/apps/ID.png`.
const SIZES: [u32; 7] = [16, 32, 48, 64, 128, 256, 512];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn linux_file(ext: &str) -> PathBuf {
    root().join("packaging/linux").join(format!("{ID}.{ext}"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The name the desktop entry must launch: the binary cargo builds (and `cargo install` installs).
fn binary_name() -> String {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_sockchat"));
    let stem = exe.file_stem().and_then(|s| s.to_str()).map(str::to_owned);
    stem.unwrap_or_else(|| panic!("no file name in {}", exe.display()))
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Runs a validator, or returns None after saying loudly why not (a failure under CI).
fn validate(tool: &str, args: &[&str], file: &Path, package: &str) -> Option<String> {
    if !on_path(tool) {
        let msg = format!(
            "`{tool}` is not installed (Debian package `{package}`): {} NOT VALIDATED",
            file.display()
        );
        if std::env::var_os("CI").is_some() {
            panic!("{msg}; CI must install it (.ci/run)");
        }
        // Written to stderr itself, not through eprintln!, which the test harness captures and hides
        // for a test that passes: a skip must show in a plain `cargo test`.
        let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {msg} ***\n");
        return None;
    }
    let out =
        Command::new(tool).args(args).arg(file).output().unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{tool} rejects {}:\n{text}", file.display());
    Some(text)
}

#[test]
fn desktop_entry_passes_desktop_file_validate() {
    let file = linux_file("desktop");
    if let Some(text) = validate("desktop-file-validate", &[], &file, "desktop-file-utils") {
        // Exit 0 still allows warnings; only hints (advice, such as "more than one main category") pass.
        let bad: Vec<&str> = text.lines().filter(|l| !l.contains(": hint: ")).collect();
        assert!(bad.is_empty(), "desktop-file-validate complains:\n{text}");
    }
}

#[test]
fn metainfo_passes_appstreamcli_validate() {
    let file = linux_file("metainfo.xml");
    validate("appstreamcli", &["validate", "--no-net", "--pedantic"], &file, "appstream");
}

/// Width and height from a PNG's IHDR chunk (bytes 16..24, big-endian), after checking the signature
/// and that IHDR comes first, so a file that is not a PNG cannot pass by chance.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(bytes.len() >= 24, "{} is too short for a PNG", path.display());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", path.display());
    assert_eq!(&bytes[12..16], b"IHDR", "{} has no IHDR first", path.display());
    let be = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (be(16), be(20))
}

#[test]
fn hicolor_icons_are_the_size_their_directory_says() {
    let hicolor = root().join("packaging/icons/hicolor");
    let mut dirs: Vec<String> = std::fs::read_dir(&hicolor)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", hicolor.display()))
        .map(|d| d.map(|d| d.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", hicolor.display()));
    dirs.sort_by_key(|d| d.split('x').next().and_then(|n| n.parse::<u32>().ok()));
    let want: Vec<String> = SIZES.iter().map(|n| format!("{n}x{n}")).collect();
    assert_eq!(dirs, want, "the hicolor size directories");
    for n in SIZES {
        let png = hicolor.join(format!("{n}x{n}/apps/{ID}.png"));
        assert_eq!(png_size(&png), (n, n), "{}", png.display());
    }
}

/// The `[Desktop Entry]` group's keys, in order, from a desktop file.
fn desktop_keys(text: &str) -> Vec<(String, String)> {
    let mut in_entry = false;
    let mut keys = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_entry = line == "[Desktop Entry]";
        } else if in_entry && let Some((k, v)) = line.split_once('=') {
            keys.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    keys
}

fn key<'a>(keys: &'a [(String, String)], name: &str) -> &'a str {
    let found = keys.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    found.unwrap_or_else(|| panic!("the desktop entry has no {name}="))
}

/// The text of the first element that opens with `open` (e.g. `<launchable type="desktop-id">`).
fn xml_text<'a>(xml: &'a str, open: &str) -> &'a str {
    let name = open.trim_start_matches('<').split([' ', '>']).next().unwrap_or_default();
    let start = xml.find(open).map(|i| i + open.len());
    let start = start.unwrap_or_else(|| panic!("the metainfo has no {open}"));
    let end = xml[start..].find(&format!("</{name}>"));
    let end = end.unwrap_or_else(|| panic!("the metainfo's {open} is not closed"));
    xml[start..start + end].trim()
}

#[test]
fn desktop_entry_metainfo_and_binary_agree() {
    let keys = desktop_keys(&read(&linux_file("desktop")));
    let xml = read(&linux_file("metainfo.xml"));
    let bin = binary_name();

    assert_eq!(key(&keys, "Type"), "Application");
    assert_eq!(key(&keys, "Terminal"), "false");
    let exec = key(&keys, "Exec");
    assert_eq!(exec.split_whitespace().next(), Some(bin.as_str()), "Exec={exec} runs another program");
    assert_eq!(xml_text(&xml, "<binary>"), bin, "the metainfo's provided binary");

    assert_eq!(xml_text(&xml, "<id>"), ID, "the metainfo's id");
    assert_eq!(key(&keys, "Icon"), ID, "Icon= must name the hicolor icons, which carry the app id");
    let launchable = xml_text(&xml, "<launchable type=\"desktop-id\">");
    assert_eq!(launchable, format!("{ID}.desktop"), "the metainfo's launchable");
    assert!(linux_file("desktop").ends_with(launchable), "the launchable names the desktop file");

    for wanted in ["Network", "Chat", "Education"] {
        let cats = key(&keys, "Categories");
        assert!(cats.split(';').any(|c| c == wanted), "Categories={cats} lacks {wanted}");
    }
    let release = format!("<release version=\"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(xml.contains(&release), "the metainfo has no {release}>");
}

#[test]
fn packager_config_parses_and_agrees() {
    let path = root().join("Packager.toml");
    let config: toml::Table =
        toml::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = |k: &str| -> &str {
        let v = config.get(k).and_then(toml::Value::as_str);
        v.unwrap_or_else(|| panic!("Packager.toml has no string {k}"))
    };
    assert_eq!(text("name"), env!("CARGO_PKG_NAME"));
    assert_eq!(text("version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(text("identifier"), ID);
    assert!(!text("product-name").is_empty());
    assert!(!text("category").is_empty());

    let binaries = config.get("binaries").and_then(toml::Value::as_array);
    let binaries = binaries.unwrap_or_else(|| panic!("Packager.toml has no binaries"));
    let main: Vec<&str> = binaries
        .iter()
        .filter(|b| b.get("main").and_then(toml::Value::as_bool) == Some(true))
        .filter_map(|b| b.get("path").and_then(toml::Value::as_str))
        .collect();
    assert_eq!(main, [binary_name()], "Packager.toml's main binary");

    let icons = config.get("icons").and_then(toml::Value::as_array);
    let icons = icons.unwrap_or_else(|| panic!("Packager.toml has no icons"));
    assert!(!icons.is_empty(), "Packager.toml lists no icons");
    for icon in icons {
        let rel = icon.as_str().unwrap_or_else(|| panic!("icon {icon} is not a path"));
        let (w, h) = png_size(&root().join(rel));
        assert!(w == h && w >= 32, "{rel} is {w}x{h}: the .icns wants square icons");
    }
}

/// A directory under the system's temp dir, removed when the test ends, passed or not.
#[cfg(target_os = "linux")]
struct TempDir(PathBuf);

#[cfg(target_os = "linux")]
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// Linux only: install.sh is for freedesktop.org desktops, and macOS's install(1) has no -D.
#[cfg(target_os = "linux")]
#[test]
fn install_script_puts_each_file_where_desktops_look() {
    let prefix = TempDir(std::env::temp_dir().join(format!("sockchat-packaging-{}", std::process::id())));
    let script = root().join("packaging/linux/install.sh");
    let out = Command::new("sh")
        .arg(&script)
        .env("PREFIX", prefix.0.join("usr"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(out.status.success(), "install.sh failed: {}", String::from_utf8_lossy(&out.stderr));

    let share = prefix.0.join("usr/share");
    let mut wanted = vec![
        (format!("applications/{ID}.desktop"), linux_file("desktop")),
        (format!("metainfo/{ID}.metainfo.xml"), linux_file("metainfo.xml")),
        (format!("icons/hicolor/scalable/apps/{ID}.svg"), root().join(format!("packaging/icons/{ID}.svg"))),
    ];
    for n in SIZES {
        let rel = format!("icons/hicolor/{n}x{n}/apps/{ID}.png");
        wanted.push((rel.clone(), root().join("packaging/icons").join(rel.trim_start_matches("icons/"))));
    }
    for (rel, source) in &wanted {
        let got = std::fs::read(share.join(rel))
            .unwrap_or_else(|e| panic!("install.sh did not install {rel}: {e}"));
        let want = std::fs::read(source).unwrap_or_else(|e| panic!("cannot read {}: {e}", source.display()));
        assert!(got == want, "{rel} differs from {}", source.display());
    }
    // The tree as a distribution would ship it: appstreamcli also checks that the launchable's desktop
    // file is there beside the metainfo.
    validate("appstreamcli", &["validate-tree", "--no-net"], &prefix.0, "appstream");
}
