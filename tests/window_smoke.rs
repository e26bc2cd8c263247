//! A real window: the app under Xvfb, a screenshot of the screen checked to be more than a blank fill,
//! the title checked to name the role and address, then quit with Ctrl+Q as a user would.
//!
//! Skips with a message where Xvfb or ImageMagick's `import` is missing, unless `SOCKCHAT_REQUIRE_DISPLAY=1`
//! (set by CI), where a skip would hide a broken window.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Kills what it holds when the test ends, passed or not.
struct Reaper(Vec<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for c in self.0.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_display() -> u32 {
    (120..400)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .expect("a free X display number")
}

/// Distinct colours in a binary PPM (P6, maxval 255), as `import ... ppm:-` writes it.
fn distinct_colours(ppm: &[u8]) -> usize {
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 && i < ppm.len() {
        while i < ppm.len() && ppm[i].is_ascii_whitespace() {
            i += 1;
        }
        if ppm.get(i) == Some(&b'#') {
            while i < ppm.len() && ppm[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while i < ppm.len() && !ppm[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&ppm[start..i]).into_owned());
    }
    if fields.first().map(String::as_str) != Some("P6") || fields.get(3).map(String::as_str) != Some("255") {
        return 0;
    }
    let pixels = &ppm[(i + 1).min(ppm.len())..];
    pixels.chunks_exact(3).map(|p| (p[0], p[1], p[2])).collect::<HashSet<_>>().len()
}

fn screenshot(display: &str) -> Vec<u8> {
    Command::new("import")
        .args(["-display", display, "-window", "root", "-depth", "8", "ppm:-"])
        .stderr(Stdio::null())
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default()
}

#[test]
fn the_window_opens_draws_and_quits_on_ctrl_q() {
    let required = std::env::var("SOCKCHAT_REQUIRE_DISPLAY").is_ok_and(|v| v == "1");
    let missing: Vec<&str> = ["Xvfb", "import"].into_iter().filter(|t| !on_path(t)).collect();
    if !missing.is_empty() {
        assert!(!required, "SOCKCHAT_REQUIRE_DISPLAY=1 but {missing:?} not installed");
        eprintln!("skipping the real-window test: {missing:?} not installed (install xvfb and imagemagick)");
        return;
    }

    let n = free_display();
    let display = format!(":{n}");
    let mut procs = Reaper(Vec::new());
    procs.0.push(
        Command::new("Xvfb")
            .args([&display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts"),
    );
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
    let t = Instant::now();
    while !socket.exists() {
        assert!(t.elapsed() < Duration::from_secs(10), "Xvfb did not come up on {display}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // A scratch home, so remembered settings neither come from nor go to the developer's own.
    let home = std::env::temp_dir().join(format!("sockchat-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let log = home.join("stderr.txt");
    procs.0.push(
        Command::new(env!("CARGO_BIN_EXE_sockchat"))
            .args(["server", "127.0.0.1:0", "--mode", "duplex"])
            .env("DISPLAY", &display)
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("sockchat starts"),
    );

    // Bounded: a software renderer on a busy machine can take a while for the first frame.
    let t = Instant::now();
    let mut colours = 0;
    while t.elapsed() < Duration::from_secs(60) {
        if let Ok(Some(status)) = procs.0[1].try_wait() {
            panic!("sockchat exited early ({status}): {}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        colours = distinct_colours(&screenshot(&display));
        if colours > 16 {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(colours > 16, "the screen stayed blank ({colours} colours)");

    if on_path("xdotool") {
        let xdo = |args: &[&str]| {
            Command::new("xdotool")
                .args(args)
                .env("DISPLAY", &display)
                .stderr(Stdio::null())
                .output()
                .unwrap()
        };
        // The title names the role and the address.
        let t = Instant::now();
        let id = loop {
            let out =
                xdo(&["search", "--name", "^sockchat - server on 127\\.0\\.0\\.1:[0-9]+ \\(duplex\\)$"]);
            let id = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_string();
            if !id.is_empty() {
                break id;
            }
            assert!(t.elapsed() < Duration::from_secs(20), "no window titled for the server");
            std::thread::sleep(Duration::from_millis(100));
        };
        xdo(&["windowfocus", "--sync", &id]);
        xdo(&["key", "--window", &id, "ctrl+q"]);
        let t = Instant::now();
        let status = loop {
            if let Ok(Some(s)) = procs.0[1].try_wait() {
                break s;
            }
            if t.elapsed() > Duration::from_secs(20) {
                panic!("Ctrl+Q did not close the window");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "exit {status}: {}", std::fs::read_to_string(&log).unwrap_or_default());
    }
    drop(procs);
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn ppm_colours_are_counted() {
    let mut img = b"P6\n# c\n2 2\n255\n".to_vec();
    img.extend_from_slice(&[0, 0, 0, 0, 0, 0, 255, 0, 0, 1, 2, 3]);
    assert_eq!(distinct_colours(&img), 3);
    assert_eq!(distinct_colours(b"P3\n1 1\n255\n0 0 0"), 0);
}
