#!/usr/bin/env python3
"""Real-window footprint of one sockchat binary under Xvfb (software GL), for BENCHMARKS.md ("Footprint").

For each run: start `sockchat server 127.0.0.1:PORT` (a window) with a scratch HOME, time from exec until
the window's top-left 400x300 region of the root shows >16 distinct colours (the first drawn frame: text is
antialiased, a blank or cleared window has 1-2 colours), polled every 5 ms with XGetImage via ctypes.
Then wait 5 s, read VmRSS/VmHWM (idle); start a client window too and read its idle RSS; then one loopback
TCP client sends N lines to the server window, wait until the server's --log has them all (+3 s to settle),
read the server window's VmRSS/VmHWM. Prints one JSON line per run.

usage: python3 benches/window_footprint.py BINARY DISPLAY LABEL [RUNS] [LINES]
(Xvfb already running on DISPLAY with nothing on it, e.g. `Xvfb :93 -screen 0 1280x800x24 &`; needs
libX11, which Xvfb's machines have; no Python package.)
"""
import ctypes, ctypes.util, json, os, shutil, socket, subprocess, sys, tempfile, time

binary, display, label = sys.argv[1], sys.argv[2], sys.argv[3]
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
lines = int(sys.argv[5]) if len(sys.argv) > 5 else 100_000

x11 = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11"))
x11.XOpenDisplay.restype = ctypes.c_void_p
x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
x11.XDefaultRootWindow.restype = ctypes.c_ulong
x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]


class XImage(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int),
                ("format", ctypes.c_int), ("data", ctypes.POINTER(ctypes.c_uint8)),
                ("byte_order", ctypes.c_int), ("bitmap_unit", ctypes.c_int),
                ("bitmap_bit_order", ctypes.c_int), ("bitmap_pad", ctypes.c_int), ("depth", ctypes.c_int),
                ("bytes_per_line", ctypes.c_int), ("bits_per_pixel", ctypes.c_int)]


x11.XGetImage.restype = ctypes.POINTER(XImage)
x11.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
                          ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
x11.XFree.argtypes = [ctypes.c_void_p]

dpy = x11.XOpenDisplay(display.encode())
assert dpy, f"cannot open {display}"
root = x11.XDefaultRootWindow(dpy)
W, H = 400, 300


def colours():
    img = x11.XGetImage(dpy, root, 0, 0, W, H, 0xFFFFFFFF, 2)  # ZPixmap
    if not img:
        return 0
    im = img.contents
    n = im.bytes_per_line * im.height
    buf = ctypes.string_at(im.data, n)
    x11.XFree(im.data)
    x11.XFree(img)
    px = set()
    bpl = im.bytes_per_line
    for y in range(0, H, 2):
        row = buf[y * bpl:y * bpl + W * 4]
        for x in range(0, W * 4, 8):
            px.add(row[x:x + 3])
        if len(px) > 16:
            break
    return len(px)


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) // 1024  # MiB
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def one_run(i):
    home = tempfile.mkdtemp(prefix="fp-winbench-")
    env = dict(os.environ, DISPLAY=display, HOME=home, XDG_CONFIG_HOME=f"{home}/config",
               XDG_DATA_HOME=f"{home}/data", LIBGL_ALWAYS_SOFTWARE="1")
    env.pop("WAYLAND_DISPLAY", None)
    port = free_port()
    log = f"{home}/server.jsonl"
    assert colours() <= 2, "screen not blank before the run"
    t0 = time.monotonic()
    srv = subprocess.Popen([binary, "server", f"127.0.0.1:{port}", "--no-announce", "--log", log], env=env,
                           stdout=subprocess.DEVNULL, stderr=open(f"{home}/server.err", "w"))
    first = None
    while time.monotonic() - t0 < 60:
        if colours() > 16:
            first = time.monotonic() - t0
            break
        if srv.poll() is not None:
            raise SystemExit(open(f"{home}/server.err").read())
        time.sleep(0.005)
    time.sleep(5)
    idle = status(srv.pid)
    # A client window beside it (draws over the server's; only its RSS is read).
    cli = subprocess.Popen([binary, "client", f"127.0.0.1:{port}"], env=dict(env, HOME=f"{home}/c"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(6)
    client_idle = status(cli.pid)
    cli.terminate(); cli.wait()
    base = count_lines(log)
    # N lines from one loopback client.
    t1 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port))
    payload = b"".join(b"line %06d: the quick brown fox jumps over the lazy dog\n" % k for k in range(lines))
    s.sendall(payload)
    while count_lines(log) < base + lines + 1 and time.monotonic() - t1 < 300:
        time.sleep(0.5)
    ingest = time.monotonic() - t1
    got = count_lines(log) - base - 1
    time.sleep(3)
    loaded = status(srv.pid)
    s.close()
    srv.terminate()
    srv.wait()
    shutil.rmtree(home, ignore_errors=True)
    time.sleep(1)
    return {"label": label, "run": i, "first_frame_s": round(first, 3) if first else None,
            "server_idle_rss_mib": idle["VmRSS"], "server_idle_hwm_mib": idle["VmHWM"],
            "client_idle_rss_mib": client_idle["VmRSS"], "client_idle_hwm_mib": client_idle["VmHWM"],
            "lines_logged": got, "ingest_s": round(ingest, 1),
            "loaded_rss_mib": loaded["VmRSS"], "loaded_hwm_mib": loaded["VmHWM"]}


for i in range(runs):
    print(json.dumps(one_run(i)), flush=True)
