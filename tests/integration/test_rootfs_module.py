"""The rootfs module, checked from inside real containers.

Every test that can runs twice: through build/tests/unit/rootfs-harness (the
module alone: it reads a bundle's config.json, makes the namespaces it lists,
runs rootfs_prepare -> rootfs_pivot -> rootfs_finalize as the container init
does and execs process.args) and through `krunc run`. Checks that need the
harness's own switches (--no-openat2, --cgroup) run on the harness only.
Everything is checked from inside the container (mountinfo, stat, writes) and
from the host (nothing leaks).
Run as root: /usr/bin/python3 -m pytest tests/integration/test_rootfs_module.py
"""
import copy
import json
import os
import shutil
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("KRUNC_BUILD", REPO / "build"))
HARNESS = BUILD / "tests" / "unit" / "rootfs-harness"
KRUNC = Path(os.environ.get("KRUNC", BUILD / "krunc"))
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
SETUP_FAILED = 125

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mount namespaces, mknod)"),
    pytest.mark.skipif(not HARNESS.exists(), reason=f"{HARNESS} is not built (ninja -C build)"),
]

CGROUP_V2_HOST = os.path.exists("/sys/fs/cgroup/cgroup.controllers")

DEFAULT_MOUNTS = [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
]
DEFAULT_NAMESPACES = ["pid", "network", "ipc", "uts", "mount"]


def make_rootfs(path: Path):
    (path / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, path / "bin" / "busybox")
    out = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True, text=True).stdout
    for applet in out.split():
        if applet != "busybox":
            os.symlink("busybox", path / "bin" / applet)
    for d in ("proc", "sys", "dev", "etc", "tmp"):
        (path / d).mkdir()


class Bundle:
    def __init__(self, path: Path, runner: str):
        self.path = path
        self.runner = runner
        self.rootfs = path / "rootfs"
        self.state = path.parent / "state"
        make_rootfs(self.rootfs)
        self.config = {
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs", "readonly": False},
            "process": {"args": ["true"], "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "mounts": copy.deepcopy(DEFAULT_MOUNTS),
            "linux": {"namespaces": [{"type": t} for t in DEFAULT_NAMESPACES]},
        }

    @property
    def mounts(self):
        return self.config["mounts"]

    @mounts.setter
    def mounts(self, value):
        self.config["mounts"] = value

    @property
    def linux(self):
        return self.config["linux"]

    def add_namespace(self, t):
        self.linux["namespaces"].append({"type": t})

    def drop_mount(self, dest):
        self.config["mounts"] = [m for m in self.mounts if not m["destination"].startswith(dest)]

    def command(self, flags):
        if self.runner == "harness":
            return [str(HARNESS), *flags, str(self.path)]
        assert set(flags) <= {"--no-pivot"}, f"krunc has no {flags}"
        cid = "rootfs-test-" + uuid.uuid4().hex[:8]
        return [str(KRUNC), "--root", str(self.state), "run", *flags, "-b", str(self.path), cid]

    def run(self, script, flags=(), expect_ok=True):
        self.config["process"]["args"] = ["sh", "-c", script]
        (self.path / "config.json").write_text(json.dumps(self.config))
        p = subprocess.run(self.command(flags), capture_output=True, text=True, timeout=60)
        if expect_ok:
            assert p.returncode == 0, f"rc={p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
        if self.runner == "krunc" and self.state.exists():
            assert os.listdir(self.state) == [], "krunc run left a container behind"
        return p

    def mountinfo(self, flags=()):
        return parse_mountinfo(self.run("cat /proc/self/mountinfo", flags).stdout)


def parse_mountinfo(text):
    """mountpoint -> the last (top) entry: root, opts, optional, fstype, source, superopts."""
    out = {}
    for line in text.splitlines():
        left, right = line.split(" - ", 1)
        f = left.split()
        fstype, source, superopts = right.split()[:3]
        unesc = lambda s: s.encode().decode("unicode_escape")
        out[unesc(f[4])] = {
            "dev": f[2], "root": unesc(f[3]), "opts": set(f[5].split(",")), "optional": f[6:],
            "fstype": fstype, "source": source, "superopts": set(superopts.split(",")),
        }
    return out


def host_mounts():
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4].encode().decode("unicode_escape") for line in f]


def host_mount_dev(mountpoint):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[2] for line in f if line.split()[4] == mountpoint][-1]


@pytest.fixture(autouse=True)
def no_leaked_mounts(tmp_path):
    """Other sessions may mount things meanwhile; ours would be under tmp_path or be new in /."""
    before = set(host_mounts())
    yield
    new = set(host_mounts()) - before
    ours = [m for m in new if m.startswith(str(tmp_path)) or m.count("/") == 1 or m.startswith(("/etc", "/sys", "/proc", "/dev"))]
    assert not ours, f"mounts were left on the host: {ours}"


@pytest.fixture(params=["harness", "krunc"])
def bundle(request, tmp_path):
    if request.param == "krunc" and not KRUNC.exists():
        pytest.skip(f"{KRUNC} is not built")
    return Bundle(tmp_path / "bundle", request.param)


@pytest.fixture
def hbundle(tmp_path):
    """The harness only: for its --no-openat2 and --cgroup switches."""
    return Bundle(tmp_path / "bundle", "harness")


def stat_line(b, paths, flags=()):
    """path -> (type, major, minor, mode, uid, gid) from busybox stat inside."""
    out = b.run("stat -c '%n|%F|%t|%T|%a|%u|%g' " + " ".join(paths), flags).stdout
    res = {}
    for line in out.splitlines():
        n, ftype, ma, mi, mode, uid, gid = line.split("|")
        res[n] = (ftype, int(ma, 16), int(mi, 16), int(mode, 8), int(uid), int(gid))
    return res


# ---------------------------------------------------------------- defaults

def test_default_mounts(bundle):
    mi = bundle.mountinfo()
    root = mi["/"]
    assert root["root"] == str(bundle.rootfs.resolve()) or root["root"].endswith(str(bundle.rootfs))
    assert mi["/proc"]["fstype"] == "proc"
    dev = mi["/dev"]
    assert dev["fstype"] == "tmpfs" and "nosuid" in dev["opts"]
    assert {"mode=755", "size=65536k"} <= dev["superopts"]
    assert "relatime" not in dev["opts"], "strictatime was not applied"
    pts = mi["/dev/pts"]
    assert pts["fstype"] == "devpts" and {"nosuid", "noexec"} <= pts["opts"]
    assert {"mode=620", "ptmxmode=666", "gid=5"} <= pts["superopts"]
    shm = mi["/dev/shm"]
    assert shm["source"] == "shm" and {"nosuid", "nodev", "noexec"} <= shm["opts"]
    assert mi["/dev/mqueue"]["fstype"] == "mqueue"
    sysfs = mi["/sys"]
    assert sysfs["fstype"] == "sysfs" and {"ro", "nosuid", "nodev", "noexec"} <= sysfs["opts"]
    assert sysfs["dev"] != host_mount_dev("/sys"), "a new network namespace gets its own sysfs"
    assert {"ro", "nosuid", "nodev", "noexec"} <= mi["/sys/fs/cgroup"]["opts"]
    # Nothing of the host's tree is left (the old root was detached).
    allowed = ("/", "/proc", "/dev", "/sys")
    for mp in mi:
        assert mp == "/" or mp.startswith(allowed[1:]), f"unexpected mount {mp}"


def test_cwd_is_root_and_rootfs_is_root(bundle):
    (bundle.rootfs / "etc" / "marker").write_text("inside\n")
    out = bundle.run("pwd; cat /etc/marker; ls /").stdout.split()
    assert out[0] == "/" and out[1] == "inside"
    assert "bin" in out and "etc" in out


def test_default_devices(bundle):
    devs = stat_line(bundle, ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"])
    expect = {"/dev/null": (1, 3), "/dev/zero": (1, 5), "/dev/full": (1, 7), "/dev/random": (1, 8),
              "/dev/urandom": (1, 9), "/dev/tty": (5, 0)}
    for path, (ma, mi) in expect.items():
        ftype, major, minor, mode, uid, gid = devs[path]
        assert ftype == "character special file", path
        assert (major, minor) == (ma, mi), path
        assert mode == 0o666, f"{path} mode {oct(mode)}"
        assert (uid, gid) == (0, 0)
    links = bundle.run("for l in ptmx fd stdin stdout stderr; do echo $l=$(readlink /dev/$l); done").stdout
    assert links.split() == ["ptmx=pts/ptmx", "fd=/proc/self/fd", "stdin=/proc/self/fd/0",
                             "stdout=/proc/self/fd/1", "stderr=/proc/self/fd/2"]
    # Usable: write to null, read from zero, and a pty from the new devpts instance.
    out = bundle.run("echo x > /dev/null && head -c 4 /dev/zero | od -An -tx1 && test -c /dev/pts/ptmx && echo ok")
    assert out.stdout.split() == ["00", "00", "00", "00", "ok"]
    core = bundle.run("readlink /dev/core || echo none").stdout.strip()
    assert core == ("/proc/kcore" if os.path.exists("/proc/kcore") else "none")


def test_linux_devices(bundle):
    bundle.linux["devices"] = [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600, "uid": 1000, "gid": 1001},
        {"path": "/dev/loopX", "type": "b", "major": 7, "minor": 0, "fileMode": 0o660, "gid": 6},
        {"path": "/dev/unbuf", "type": "u", "major": 1, "minor": 3},
        {"path": "/dev/fifo", "type": "p", "fileMode": 0o640},
        {"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200, "fileMode": 0o666},
        {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o640},
    ]
    s = stat_line(bundle, ["/dev/fuse", "/dev/loopX", "/dev/unbuf", "/dev/fifo", "/dev/net/tun", "/dev/zero"])
    assert s["/dev/fuse"] == ("character special file", 10, 229, 0o600, 1000, 1001)
    assert s["/dev/loopX"] == ("block special file", 7, 0, 0o660, 0, 6)
    assert s["/dev/unbuf"][:4] == ("character special file", 1, 3, 0o666)
    assert s["/dev/fifo"][0] == "fifo" and s["/dev/fifo"][3] == 0o640
    assert s["/dev/net/tun"][:4] == ("character special file", 10, 200, 0o666)
    # The spec's entry wins over the default one.
    assert s["/dev/zero"][:4] == ("character special file", 1, 5, 0o640)


def test_device_replaces_existing_path_without_dev_mount(bundle):
    # No /dev mount: like runc, the nodes go into the rootfs's own /dev.
    bundle.drop_mount("/dev")
    (bundle.rootfs / "dev" / "mydev").write_text("a regular file\n")
    bundle.linux["devices"] = [{"path": "/dev/mydev", "type": "c", "major": 1, "minor": 7, "fileMode": 0o644}]
    s = stat_line(bundle, ["/dev/mydev", "/dev/null"])
    assert s["/dev/mydev"][:4] == ("character special file", 1, 7, 0o644)
    assert s["/dev/null"][:3] == ("character special file", 1, 3)
    st = os.lstat(bundle.rootfs / "dev" / "mydev")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 7


def test_dev_bind_mount_is_not_populated(bundle, tmp_path):
    hostdev = tmp_path / "hostdev"
    hostdev.mkdir()
    (hostdev / "marker").write_text("m")
    bundle.drop_mount("/dev")
    bundle.mounts.append({"destination": "/dev", "type": "bind", "source": str(hostdev), "options": ["rbind"]})
    out = bundle.run("ls -A /dev").stdout.split()
    assert out == ["marker"]
    assert sorted(os.listdir(hostdev)) == ["marker"], "krunc wrote into a bind-mounted /dev"


def test_dev_read_only_after_devices(bundle):
    for m in bundle.mounts:
        if m["destination"] == "/dev":
            m["options"].append("ro")
    mi = bundle.mountinfo()
    assert "ro" in mi["/dev"]["opts"]
    out = bundle.run("test -c /dev/null && echo made; touch /dev/x 2>&1 || echo refused").stdout
    assert "made" in out and "refused" in out


# ---------------------------------------------------------------- bind mounts and options

def test_bind_dir_and_file_with_flags(bundle, tmp_path):
    data = tmp_path / "hostdata"
    data.mkdir()
    (data / "f").write_text("from the host\n")
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("single file\n")
    bundle.mounts += [
        {"destination": "/data", "type": "bind", "source": str(data), "options": ["bind", "ro", "nosuid", "nodev", "noexec"]},
        {"destination": "/deep/er/file.txt", "type": "none", "source": str(hostfile), "options": ["rbind", "rw"]},
    ]
    mi = bundle.mountinfo()
    assert {"ro", "nosuid", "nodev", "noexec"} <= mi["/data"]["opts"]
    assert mi["/data"]["root"].endswith("/hostdata")
    assert "rw" in mi["/deep/er/file.txt"]["opts"]
    out = bundle.run("cat /data/f /deep/er/file.txt; touch /data/new 2>/dev/null || echo refused; "
                     "echo changed > /deep/er/file.txt").stdout
    assert out.split("\n")[:3] == ["from the host", "single file", "refused"]
    assert hostfile.read_text() == "changed\n"
    assert (bundle.rootfs / "deep" / "er" / "file.txt").is_file()


def test_bind_source_relative_to_bundle(bundle):
    (bundle.path / "shared").mkdir()
    (bundle.path / "shared" / "x").write_text("rel\n")
    bundle.mounts.append({"destination": "/shared", "source": "shared", "options": ["bind"]})
    assert bundle.run("cat /shared/x").stdout == "rel\n"


def test_ro_versus_rro(bundle):
    src = str(bundle.rootfs.resolve() / "data")
    bundle.mounts += [
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/data/sub", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/view-bind", "source": src, "options": ["bind", "ro"]},
        {"destination": "/view-ro", "source": src, "options": ["rbind", "ro"]},
        {"destination": "/view-rro", "source": src, "options": ["rbind", "rro", "rnosuid"]},
    ]
    mi = bundle.mountinfo()
    assert "/view-bind/sub" not in mi, "a plain bind took the submount along"
    assert "ro" in mi["/view-ro"]["opts"] and "rw" in mi["/view-ro/sub"]["opts"]
    assert "ro" in mi["/view-rro"]["opts"] and "ro" in mi["/view-rro/sub"]["opts"]
    assert "nosuid" in mi["/view-rro/sub"]["opts"]
    assert "rw" in mi["/data/sub"]["opts"]


def test_fs_flags_and_data(bundle):
    def tmpfs(dest, *opts):
        bundle.mounts.append({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": list(opts)})
    tmpfs("/t/noatime", "noatime", "nodiratime")
    tmpfs("/t/strict", "strictatime")
    tmpfs("/t/relatime", "relatime", "nosuid", "nodev", "noexec")
    tmpfs("/t/nosymfollow", "nosymfollow")
    tmpfs("/t/sync", "sync", "dirsync")
    tmpfs("/t/data", "mode=700", "size=1m", "uid=12", "gid=34")
    tmpfs("/t/rw-wins", "ro", "rw", "exec", "suid", "dev")
    mi = bundle.mountinfo()
    assert {"noatime", "nodiratime"} <= mi["/t/noatime"]["opts"]
    assert not {"relatime", "noatime"} & mi["/t/strict"]["opts"]
    assert {"relatime", "nosuid", "nodev", "noexec"} <= mi["/t/relatime"]["opts"]
    assert "nosymfollow" in mi["/t/nosymfollow"]["opts"]
    assert {"sync", "dirsync"} <= mi["/t/sync"]["superopts"]
    assert {"mode=700", "size=1024k", "uid=12", "gid=34"} <= mi["/t/data"]["superopts"]
    assert "rw" in mi["/t/rw-wins"]["opts"] and not {"nosuid", "nodev", "noexec"} & mi["/t/rw-wins"]["opts"]
    st = bundle.run("stat -c '%a %u %g' /t/data").stdout.split()
    assert st == ["700", "12", "34"]


def test_remount_option(bundle):
    bundle.mounts += [
        {"destination": "/r", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
        {"destination": "/r", "type": "tmpfs", "source": "tmpfs", "options": ["remount", "ro", "size=2m"]},
    ]
    mi = bundle.mountinfo()
    assert "ro" in mi["/r"]["opts"] and "size=2048k" in mi["/r"]["superopts"]


def test_mount_propagation_options(bundle):
    src = str(bundle.rootfs.resolve() / "p1")
    bundle.mounts += [
        {"destination": "/p1", "type": "tmpfs", "source": "tmpfs", "options": ["shared"]},
        {"destination": "/p2", "source": src, "options": ["bind", "slave"]},
        {"destination": "/p3", "type": "tmpfs", "source": "tmpfs", "options": ["unbindable"]},
        {"destination": "/p4", "type": "tmpfs", "source": "tmpfs", "options": ["shared", "private"]},
    ]
    mi = bundle.mountinfo()
    shared = [o for o in mi["/p1"]["optional"] if o.startswith("shared:")]
    assert shared
    assert mi["/p2"]["optional"] == ["master:" + shared[0].split(":")[1]]
    assert mi["/p3"]["optional"] == ["unbindable"]
    assert mi["/p4"]["optional"] == []


@pytest.mark.parametrize("prop,expect", [("shared", "shared:"), ("private", None), ("unbindable", "unbindable"),
                                         ("rslave", None), (None, None)])
def test_rootfs_propagation(bundle, prop, expect):
    if prop:
        bundle.linux["rootfsPropagation"] = prop
    optional = bundle.mountinfo()["/"]["optional"]
    if expect is None:
        assert not [o for o in optional if o.startswith("shared:")]
    else:
        assert any(o.startswith(expect) for o in optional), optional


@pytest.mark.parametrize("prop", [None, "rshared", "shared", "rprivate"])
@pytest.mark.parametrize("flags", [(), ("--no-pivot",)], ids=["pivot", "no-pivot"])
def test_shared_host_root_is_left_alone(bundle, prop, flags):
    """On a host whose mounts are shared (systemd does that), creating the
    container must neither add nor remove a mount on the host side: the old
    root's detach and the container's own mounts stay in the container.
    The "host" is a throwaway mount namespace with everything rshared."""
    if prop:
        bundle.linux["rootfsPropagation"] = prop
    bundle.mounts.append({"destination": "/extra", "type": "tmpfs", "source": "tmpfs", "options": ["shared"]})
    bundle.config["process"]["args"] = ["sh", "-c", "test -d /extra && mount | grep -q ' /extra '"]
    (bundle.path / "config.json").write_text(json.dumps(bundle.config))
    cmd = " ".join(bundle.command(flags))
    script = f"cat /proc/self/mountinfo; echo ===; {cmd} >&2; echo rc=$?; echo ===; cat /proc/self/mountinfo"
    p = subprocess.run(["unshare", "-m", "--propagation", "shared", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    before, rc, after = p.stdout.split("===\n")
    assert rc.strip() == "rc=0", p.stderr
    assert sorted(before.splitlines()) == sorted(after.splitlines())


def test_tmpcopyup(bundle):
    d = bundle.rootfs / "seed"
    (d / "sub").mkdir(parents=True)
    (d / "f").write_text("seeded\n")
    os.chmod(d / "f", 0o640)
    os.chown(d / "f", 1234, 4321)
    os.symlink("f", d / "link")
    (d / "sub" / "g").write_text("deeper\n")
    bundle.mounts += [
        {"destination": "/seed", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "mode=755"]},
    ]
    # the file is 0640 and owned by someone else: root reads it only with CAP_DAC_OVERRIDE,
    # and without process.capabilities every set is empty (as in runc)
    bundle.config["process"]["capabilities"] = {k: ["CAP_DAC_OVERRIDE"] for k in ("bounding", "effective", "permitted")}
    out = bundle.run("cat /seed/f /seed/sub/g; readlink /seed/link; stat -c '%a %u %g' /seed/f; "
                     "echo new > /seed/new; ls /seed").stdout.split("\n")
    assert out[:5] == ["seeded", "deeper", "f", "640 1234 4321", "f"] or out[:4] == ["seeded", "deeper", "f", "640 1234 4321"]
    assert "new" in out[4:]
    assert not (d / "new").exists(), "the write went to the rootfs, not the tmpfs"
    mi = bundle.mountinfo()
    assert mi["/seed"]["fstype"] == "tmpfs"


def test_tmpcopyup_read_only(bundle):
    (bundle.rootfs / "seed").mkdir()
    (bundle.rootfs / "seed" / "f").write_text("x\n")
    bundle.mounts.append({"destination": "/seed", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "ro"]})
    out = bundle.run("cat /seed/f; touch /seed/y 2>/dev/null || echo refused").stdout.split()
    assert out == ["x", "refused"]


# ---------------------------------------------------------------- containment

@pytest.mark.parametrize("flags", [(), ("--no-openat2",), ("--enosys", "openat2")],
                         ids=["openat2", "userspace-walk", "openat2-ENOSYS"])
def test_symlinks_cannot_lead_mounts_out_of_the_rootfs(hbundle, tmp_path, flags):
    bundle = hbundle
    hostdir = tmp_path / "hostdir"
    hostdir.mkdir()
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("bound\n")
    mnt = bundle.rootfs / "mnt"
    mnt.mkdir()
    os.symlink(str(hostdir), mnt / "abs")                      # absolute host path
    os.symlink("../../../../../../../../../..", mnt / "up")    # climbs far above the rootfs
    os.symlink("/etc", mnt / "etc")                             # the host's /etc by name
    bundle.mounts += [
        {"destination": "/mnt/abs/x", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/mnt/up/escaped", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/mnt/etc/hostname-bound", "source": str(hostfile), "options": ["bind"]},
    ]
    mi = bundle.mountinfo(flags)
    assert mi[str(hostdir) + "/x"]["fstype"] == "tmpfs"
    assert mi["/escaped"]["fstype"] == "tmpfs"
    assert "/etc/hostname-bound" in mi
    # What was created was created inside the rootfs, nothing on the host.
    assert list(hostdir.iterdir()) == []
    assert (bundle.rootfs / str(hostdir).lstrip("/") / "x").is_dir()
    assert (bundle.rootfs / "escaped").is_dir()
    assert not Path("/escaped").exists()
    assert not Path("/etc/hostname-bound").exists()
    assert (bundle.rootfs / "etc" / "hostname-bound").is_file()
    assert bundle.run("cat /etc/hostname-bound", flags).stdout == "bound\n"


def test_symlinked_device_path_stays_inside(bundle, tmp_path):
    hostdir = tmp_path / "hostdev"
    hostdir.mkdir()
    bundle.drop_mount("/dev")
    os.rmdir(bundle.rootfs / "dev")
    os.symlink(str(hostdir), bundle.rootfs / "dev")
    s = stat_line(bundle, [str(hostdir) + "/null"])
    assert s[str(hostdir) + "/null"][:3] == ("character special file", 1, 3)
    assert list(hostdir.iterdir()) == [], "device nodes were made on the host"


# ---------------------------------------------------------------- finalize

def test_masked_paths(bundle):
    bundle.linux["maskedPaths"] = ["/proc/keys", "/proc/timer_list", "/sys/firmware", "/proc/kcore",
                                   "/does/not/exist"]
    out = bundle.run("stat -c '%t:%T' /proc/keys; cat /proc/keys | wc -c; ls -A /sys/firmware | wc -l; "
                     "touch /sys/firmware/x 2>/dev/null || echo refused").stdout.split()
    assert out == ["1:3", "0", "0", "refused"]
    mi = bundle.mountinfo()
    fw = mi["/sys/firmware"]
    assert fw["fstype"] == "tmpfs" and "ro" in fw["opts"]
    assert mi["/proc/keys"]["root"] == "/null"
    assert "/does/not/exist" not in mi


def test_readonly_paths(bundle):
    bundle.linux["readonlyPaths"] = ["/proc/sys", "/proc/bus", "/proc/nonexistent"]
    mi = bundle.mountinfo()
    for p in ("/proc/sys", "/proc/bus"):
        assert {"ro", "nosuid", "nodev", "noexec"} <= mi[p]["opts"], p
        assert mi[p]["root"] == p[len("/proc"):]
    assert "rw" in mi["/proc"]["opts"]
    out = bundle.run("echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null || echo refused").stdout.strip()
    assert out == "refused"


@pytest.mark.parametrize("readonly", [True, False])
def test_root_readonly(bundle, readonly):
    bundle.config["root"]["readonly"] = readonly
    out = bundle.run("touch /newfile 2>/dev/null && echo wrote || echo refused; touch /dev/shm/ok && echo shm").stdout
    assert out.split() == (["refused", "shm"] if readonly else ["wrote", "shm"])
    assert ("ro" in bundle.mountinfo()["/"]["opts"]) == readonly


def test_no_pivot(bundle):
    bundle.config["root"]["readonly"] = True
    bundle.linux["maskedPaths"] = ["/proc/keys"]
    mi = bundle.mountinfo(("--no-pivot",))
    assert "ro" in mi["/"]["opts"]
    assert mi["/proc/keys"]["root"] == "/null"
    out = bundle.run("pwd; ls /", ("--no-pivot",)).stdout.split()
    assert out[0] == "/" and "bin" in out


# ---------------------------------------------------------------- user namespace

def userns(bundle, netns=True):
    bundle.add_namespace("user")
    if not netns:
        bundle.linux["namespaces"] = [n for n in bundle.linux["namespaces"] if n["type"] != "network"]
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]


def test_userns_devices_are_bind_mounted(bundle):
    userns(bundle)
    mi = bundle.mountinfo()
    for d in ("null", "zero", "full", "random", "urandom", "tty"):
        assert f"/dev/{d}" in mi, f"/dev/{d} is not a bind mount"
    s = stat_line(bundle, ["/dev/null", "/dev/urandom"])
    assert s["/dev/null"][:3] == ("character special file", 1, 3)
    assert s["/dev/urandom"][:3] == ("character special file", 1, 9)
    assert bundle.run("echo x > /dev/null && head -c 1 /dev/zero | wc -c").stdout.strip() == "1"


def test_userns_sysfs_without_netns_is_a_bind(bundle):
    userns(bundle, netns=False)
    bundle.drop_mount("/dev/mqueue")   # needs the ipc namespace we keep, but mqueue has no host fallback here
    mi = bundle.mountinfo()
    sysfs = mi["/sys"]
    assert sysfs["fstype"] == "sysfs" and "ro" in sysfs["opts"]
    assert sysfs["dev"] == host_mount_dev("/sys"), "not the host's /sys bound"
    assert "/sys/fs/cgroup" in mi


def test_userns_bind_ro(bundle, tmp_path):
    userns(bundle)
    d = tmp_path / "d"
    d.mkdir()
    bundle.mounts.append({"destination": "/d", "source": str(d), "options": ["rbind", "ro", "nosuid"]})
    assert {"ro", "nosuid"} <= bundle.mountinfo()["/d"]["opts"]


# ---------------------------------------------------------------- cgroups

@pytest.fixture
def cgroup_name():
    """A cgroup in every hierarchy; the harness joins it, as the runtime would."""
    name = "krunc-rootfs-test-" + uuid.uuid4().hex[:8]
    made = []
    for h in sorted(os.listdir("/sys/fs/cgroup")):
        base = Path("/sys/fs/cgroup") / h
        if not (base / "cgroup.procs").exists():
            continue
        try:
            (base / name).mkdir()
            made.append(base / name)
            (base / name / "marker").mkdir()
        except OSError:
            pass
        if h == "cpuset":   # a cpuset cgroup takes no process before it has cpus and mems
            for f in ("cpuset.cpus", "cpuset.mems"):
                (base / name / f).write_text((base / f).read_text())
    if CGROUP_V2_HOST:
        try:
            Path("/sys/fs/cgroup", name).mkdir()
            Path("/sys/fs/cgroup", name, "marker").mkdir()
            made.append(Path("/sys/fs/cgroup", name))
        except OSError:
            pass
    if not made:
        pytest.skip("cannot create cgroups here")
    yield name
    for d in made:
        if (d / "marker").exists():
            os.rmdir(d / "marker")
        os.rmdir(d)


@pytest.mark.skipif(CGROUP_V2_HOST, reason="the host is cgroup v2 only")
def test_cgroup_v1_shows_the_containers_own_cgroup(bundle):
    """Wherever the runtime put the container, each hierarchy shows that cgroup."""
    out = bundle.run("cat /proc/self/cgroup; echo ---; cat /proc/self/mountinfo").stdout
    cgroups, mountinfo = out.split("---\n")
    mi = parse_mountinfo(mountinfo)
    checked = 0
    for line in cgroups.splitlines():
        _, ctrls, path = line.split(":", 2)
        for mp, m in mi.items():
            if not mp.startswith("/sys/fs/cgroup/"):
                continue
            if (ctrls == "" and m["fstype"] == "cgroup2") or \
               (ctrls and m["fstype"] == "cgroup" and set(ctrls.split(",")) <= m["superopts"]):
                host_root = [l for l in open("/proc/self/mountinfo") if f" {mp} " in l][0].split()[3]
                expect = path if host_root == "/" else path[len(host_root):] or "/"
                assert m["root"] == expect, (mp, m["root"], expect)
                checked += 1
    assert checked >= 2


@pytest.mark.skipif(CGROUP_V2_HOST, reason="the host is cgroup v2 only")
def test_cgroup_v1_binds_own_cgroup(hbundle, cgroup_name):
    bundle = hbundle
    mi = bundle.mountinfo(("--cgroup", cgroup_name))
    hierarchies = [h for h in os.listdir("/sys/fs/cgroup") if os.path.exists(f"/sys/fs/cgroup/{h}/{cgroup_name}")]
    assert hierarchies
    for h in hierarchies:
        m = mi[f"/sys/fs/cgroup/{h}"]
        assert m["root"] == "/" + cgroup_name, (h, m)
        assert {"ro", "nosuid", "nodev", "noexec"} <= m["opts"]
    out = bundle.run("ls /sys/fs/cgroup/pids; cat /sys/fs/cgroup/pids/cgroup.procs", ("--cgroup", cgroup_name)).stdout
    assert "marker" in out.split()
    assert "1" in out.split(), "the container's pid 1 is not in the bound cgroup"


@pytest.mark.skipif(CGROUP_V2_HOST, reason="the host is cgroup v2 only")
def test_cgroup_v1_with_cgroupns_mounts_fresh(hbundle, cgroup_name):
    bundle = hbundle
    bundle.add_namespace("cgroup")
    flags = ("--cgroup", cgroup_name)
    mi = bundle.mountinfo(flags)
    assert mi["/sys/fs/cgroup/pids"]["fstype"] == "cgroup"
    assert mi["/sys/fs/cgroup/pids"]["root"] == "/"
    assert mi["/sys/fs/cgroup/unified"]["fstype"] == "cgroup2"
    out = bundle.run("ls /sys/fs/cgroup/pids; cat /proc/self/cgroup", flags).stdout.split()
    assert "marker" in out
    assert "8:pids:/" in out or any(l.endswith(":pids:/") for l in out)


@pytest.mark.skipif(not CGROUP_V2_HOST, reason="the host is not cgroup v2 only")
def test_cgroup_v2(hbundle, cgroup_name):
    bundle = hbundle
    bundle.add_namespace("cgroup")
    mi = bundle.mountinfo(("--cgroup", cgroup_name))
    assert mi["/sys/fs/cgroup"]["fstype"] == "cgroup2"


# ---------------------------------------------------------------- errors

def error_of(bundle, *mounts, flags=()):
    bundle.mounts += list(mounts)
    p = bundle.run("true", flags, expect_ok=False)
    assert p.returncode == (SETUP_FAILED if bundle.runner == "harness" else 1), p
    return p.stderr.strip()


def test_error_unknown_fs(bundle):
    msg = error_of(bundle, {"destination": "/x", "type": "nosuchfs", "source": "none"})
    assert 'mount "none" on "/x": No such device' in msg


def test_error_missing_bind_source(bundle):
    msg = error_of(bundle, {"destination": "/y", "source": "/nonexistent/src", "options": ["bind"]})
    assert '"/nonexistent/src" on "/y"' in msg and "No such file or directory" in msg


def test_error_proc_in_userns_without_pidns(bundle):
    userns(bundle)
    bundle.linux["namespaces"] = [n for n in bundle.linux["namespaces"] if n["type"] != "pid"]
    msg = error_of(bundle)
    assert 'mount "proc" on "/proc": Operation not permitted' in msg


def test_error_idmap(bundle):
    msg = error_of(bundle, {"destination": "/z", "source": "/tmp", "options": ["rbind", "idmap"]})
    assert '"/z"' in msg and "idmap" in msg and "not supported" in msg


def test_error_rro_without_mount_setattr(hbundle):
    """On a kernel without mount_setattr (before 5.12) recursive options fail clearly."""
    msg = error_of(hbundle, {"destination": "/v", "source": "/tmp", "options": ["rbind", "rro"]},
                   flags=("--enosys", "mount_setattr"))
    assert 'mount option "rro" on "/v"' in msg and "mount_setattr" in msg and "5.12" in msg


def test_error_no_type(bundle):
    msg = error_of(bundle, {"destination": "/notype", "source": "x"})
    assert 'mount on "/notype": no type' in msg


def test_error_mount_point_under_a_file(bundle):
    (bundle.rootfs / "etc" / "afile").write_text("")
    msg = error_of(bundle, {"destination": "/etc/afile/sub", "type": "tmpfs", "source": "tmpfs"})
    assert '"/etc/afile/sub"' in msg and "Not a directory" in msg


def test_error_device_under_a_file(bundle):
    (bundle.rootfs / "etc" / "afile").write_text("")
    bundle.linux["devices"] = [{"path": "/etc/afile/dev", "type": "c", "major": 1, "minor": 3}]
    msg = error_of(bundle)
    assert 'device "/etc/afile/dev"' in msg and "Not a directory" in msg
