"""Helpers shared by test_security.py and test_exec.py: busybox bundles and
the runtime under test ($KRUNC, default <repo>/build/krunc) with a private
--root. Kept apart from conftest.py so these files stand on their own."""

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KRUNC = os.environ.get("KRUNC", str(REPO / "build" / "krunc"))
IS_KRUNC = os.path.basename(KRUNC) != "runc"
BUSYBOX = "/bin/busybox"
TIMEOUT = 30

krunc_only = pytest.mark.skipif(not IS_KRUNC, reason="krunc-specific behaviour or text")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not os.access(KRUNC, os.X_OK), reason="runtime %s not built" % KRUNC),
    pytest.mark.skipif(not os.access(BUSYBOX, os.X_OK), reason="needs busybox-static"),
]

CAP = {n: i for i, n in enumerate([
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
    "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"])}


def mask(names):
    m = 0
    for n in names:
        m |= 1 << CAP[n]
    return m


# ---------------------------------------------------------------------------
# bundles and the runtime


def _applets():
    out = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True, text=True).stdout
    return [a for a in out.split() if a and a != "busybox"]


APPLETS = _applets()


def make_bundle(path):
    rootfs = path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    for a in APPLETS:
        os.symlink("busybox", rootfs / "bin" / a)
    for d in ("proc", "sys", "dev", "tmp", "etc", "root"):
        (rootfs / d).mkdir(exist_ok=True)
    os.chmod(rootfs / "tmp", 0o1777)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                             for k in ("bounding", "effective", "permitted", "ambient")},
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "sec",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=1777"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/kcore"],
            "readonlyPaths": ["/proc/sys"],
        },
    }


class Runtime:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.root = tmp_path / "root"
        self.n = 0

    @staticmethod
    def new_id():
        return "sec-" + uuid.uuid4().hex[:10]

    def bundle(self, config=None):
        self.n += 1
        path = self.tmp / ("bundle%d" % self.n)
        cfg = make_bundle(path)
        return path, cfg

    @staticmethod
    def write(path, cfg):
        (path / "config.json").write_text(json.dumps(cfg))

    def run(self, args, stdin=subprocess.DEVNULL, timeout=TIMEOUT, pass_fds=()):
        # files, not pipes: a detached container would keep a pipe open
        self.n += 1
        out_p, err_p = self.tmp / ("%d.out" % self.n), self.tmp / ("%d.err" % self.n)
        with open(out_p, "wb") as out, open(err_p, "wb") as err:
            p = subprocess.run([KRUNC, "--root", str(self.root), *args], stdin=stdin, stdout=out, stderr=err,
                               timeout=timeout, pass_fds=pass_fds)
        return subprocess.CompletedProcess(p.args, p.returncode, out_p.read_text(errors="replace"),
                                           err_p.read_text(errors="replace"))

    def run_container(self, path, cfg, *extra):
        self.write(path, cfg)
        return self.run(["run", "--bundle", str(path), *extra, self.new_id()])

    def leftovers(self):
        return sorted(p.name for p in self.root.iterdir()) if self.root.exists() else []


def describe(res):
    return "exit %s for %s\n--- stdout:\n%s\n--- stderr:\n%s" % (res.returncode, " ".join(res.args), res.stdout,
                                                                res.stderr)


@pytest.fixture
def rt(tmp_path):
    r = Runtime(tmp_path)
    yield r
    left = r.leftovers()
    for cid in left:
        r.run(["delete", "--force", cid])
    assert not left, "containers left behind: %r" % left


def status_fields(text):
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        if k.startswith("Cap"):
            out[k] = int(v.strip(), 16)
        elif k in ("NoNewPrivs", "Seccomp", "Seccomp_filters"):
            out[k] = int(v.strip())
    return out


STATUS_SCRIPT = "grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status"


def run_ok(rt, path, cfg, *extra):
    res = rt.run_container(path, cfg, *extra)
    assert res.returncode == 0, describe(res)
    return res.stdout
