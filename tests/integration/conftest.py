"""Shared fixtures for the krunc integration tests.

The runtime under test is taken from the environment variable KRUNC
(default: <repo>/build/krunc).  Every test is written against runc's
behaviour first, so the whole suite can be run against the reference:

    KRUNC=/usr/sbin/runc /usr/bin/python3 -m pytest -q tests/integration

Tests that check krunc-specific text carry the ``krunc_only`` marker and are
skipped when KRUNC is runc.  Tests for behaviour the issue requires but
runc 1.1.5 lacks are skipped on runc through ``skip_on_runc(reason)``.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KRUNC = os.environ.get("KRUNC", str(REPO / "build" / "krunc"))
IS_KRUNC = os.path.basename(KRUNC) != "runc"
BUSYBOX = "/bin/busybox"

# How long a single runtime command may take before the suite gives up on it.
COMMAND_TIMEOUT = 30
# Upper bound for polling loops (container start-up, process exit ...).
POLL_TIMEOUT = 10
POLL_INTERVAL = 0.01


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "krunc_only: checks krunc-specific text; skipped against runc")


def pytest_collection_modifyitems(config, items):
    if IS_KRUNC:
        return
    skip = pytest.mark.skip(reason="krunc-specific")
    for item in items:
        if "krunc_only" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def pytest_report_header(config):
    return "runtime under test: %s (%s)" % (KRUNC, "krunc" if IS_KRUNC else "runc")


def skip_on_runc(reason):
    """Mark a test for behaviour the issue requires of krunc but runc lacks."""
    return pytest.mark.skipif(not IS_KRUNC, reason="runc differs: " + reason)


# ---------------------------------------------------------------------------
# polling helpers


def installed_krunc_dynamic():
    """Where the static krunc looks for krunc-dynamic once installed (from its
    --version); None when krunc is built with -Dstatic=false and dlopens itself."""
    out = subprocess.run([KRUNC, "--version"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"^build: static;.* or (/\S+)\)$", out, re.M)
    return m.group(1) if m else None


def lone_static_krunc(directory):
    """A copy of the static krunc in ``directory`` with no krunc-dynamic beside it.

    Returns (path, prefix): where krunc-dynamic is installed on this machine,
    ``prefix`` runs a command in a private mount namespace with a tmpfs over its
    directory, so the copy finds none there either."""
    installed = installed_krunc_dynamic()
    if installed is None:
        pytest.skip("krunc is built with -Dstatic=false: it has no krunc-dynamic")
    path = Path(directory) / "krunc"
    shutil.copy2(KRUNC, path)
    prefix = ()
    if os.path.exists(installed):
        prefix = ("unshare", "-m", "--propagation", "private", "sh", "-c",
                  'mount -t tmpfs tmpfs "$0" && exec "$@"', os.path.dirname(installed))
    return str(path), prefix


def wait_for(predicate, timeout=POLL_TIMEOUT, what="condition"):
    """Poll ``predicate`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(POLL_INTERVAL)


def pid_alive(pid):
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # the state letter follows the parenthesised command name
    return stat[stat.rindex(")") + 2] not in "ZX"


def wait_file(path, timeout=POLL_TIMEOUT):
    """Wait until ``path`` exists and is non-empty; return its text."""
    path = Path(path)

    def ready():
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        return text if text else None

    return wait_for(ready, timeout, "file %s" % path)


# ---------------------------------------------------------------------------
# bundles


def default_config():
    """The equivalent of `runc spec`, but with terminal false."""
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ],
            "cwd": "/",
            "capabilities": {
                k: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                for k in ("bounding", "effective", "permitted", "ambient")
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666",
                         "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in
                           ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                "/proc/sysrq-trigger",
            ],
        },
    }


_APPLETS = None


def busybox_applets():
    global _APPLETS
    if _APPLETS is None:
        out = subprocess.run([BUSYBOX, "--list"], check=True,
                             capture_output=True, text=True).stdout
        _APPLETS = [a for a in out.split() if a and "/" not in a and a != "busybox"]
    return _APPLETS


class Bundle:
    """A bundle directory with a busybox rootfs and an editable config dict."""

    def __init__(self, path, busybox=BUSYBOX):
        self.path = Path(path)
        self._busybox = busybox
        self.rootfs = self.path / "rootfs"
        self.config = default_config()
        self._shared = None
        self._make_rootfs()

    def _make_rootfs(self):
        bindir = self.rootfs / "bin"
        bindir.mkdir(parents=True)
        # hard-link a per-session copy of busybox: cheap, and the host's
        # /bin/busybox is never shared with a container
        try:
            os.link(self._busybox, bindir / "busybox")
        except OSError:
            shutil.copy2(BUSYBOX, bindir / "busybox")
        for applet in busybox_applets():
            os.symlink("busybox", bindir / applet)
        for d in ("proc", "sys", "dev", "tmp", "etc", "root", "mnt", "run",
                  "var", "home", "usr"):
            (self.rootfs / d).mkdir(exist_ok=True)
        os.chmod(self.rootfs / "tmp", 0o1777)
        os.symlink("../bin", self.rootfs / "usr" / "bin")
        os.symlink("bin", self.rootfs / "sbin")
        (self.rootfs / "etc" / "passwd").write_text(
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
        (self.rootfs / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")

    # -- config editing helpers -------------------------------------------

    @property
    def process(self):
        return self.config["process"]

    @property
    def linux(self):
        return self.config["linux"]

    def set_args(self, *args):
        self.config["process"]["args"] = list(args)
        return self

    def sh(self, script):
        """Run ``script`` with busybox sh as the container process."""
        return self.set_args("sh", "-c", script)

    def namespaces(self):
        return [n["type"] for n in self.config["linux"]["namespaces"]]

    def remove_namespace(self, ns_type):
        self.linux["namespaces"] = [n for n in self.linux["namespaces"]
                                    if n["type"] != ns_type]

    def add_namespace(self, ns_type, path=None):
        self.remove_namespace(ns_type)
        ns = {"type": ns_type}
        if path is not None:
            ns["path"] = path
        self.linux["namespaces"].append(ns)

    def add_mount(self, destination, type_, source, options=None):
        m = {"destination": destination, "type": type_, "source": source}
        if options is not None:
            m["options"] = list(options)
        self.config["mounts"].append(m)
        return m

    def add_bind(self, source, destination, options=("rbind", "rw")):
        return self.add_mount(destination, "bind", str(source), options)

    @property
    def shared(self):
        """A host directory bind-mounted read-write at /shared in the container."""
        if self._shared is None:
            self._shared = self.path / "shared"
            self._shared.mkdir()
            os.chmod(self._shared, 0o777)
            self.add_bind(self._shared, "/shared")
        return self._shared

    # -- writing ------------------------------------------------------------

    def write(self):
        (self.path / "config.json").write_text(json.dumps(self.config, indent=2))

    def write_raw(self, text):
        (self.path / "config.json").write_text(text)


@pytest.fixture(scope="session")
def busybox_copy(tmp_path_factory):
    path = tmp_path_factory.mktemp("busybox") / "busybox"
    shutil.copy2(BUSYBOX, path)
    return path


def mounts_under(path):
    """Mount points at or below ``path`` in the caller's mount namespace."""
    path = str(path).rstrip("/")
    with open("/proc/self/mountinfo") as f:
        points = [l.split()[4] for l in f]
    return [p for p in points if p == path or p.startswith(path + "/")]


@pytest.fixture
def bundle_base():
    """A per-test directory for bundles, traversable by any uid.

    pytest's own tmp_path sits below a 0700 directory, which a container
    root mapped to an unprivileged host uid (user namespaces) cannot reach.
    """
    base = Path(tempfile.mkdtemp(prefix="krunc-itest-"))
    os.chmod(base, 0o711)
    yield base
    left = mounts_under(base)
    if left:
        # never rmtree across a mount: it could reach host data
        pytest.fail("mounts left under %s: %r" % (base, left), pytrace=False)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def make_bundle(bundle_base, busybox_copy, runtime_ready):
    """Factory: ``make_bundle()`` returns a fresh Bundle for this test."""
    counter = [0]

    def factory(name=None):
        counter[0] += 1
        b = Bundle(bundle_base / (name or "bundle%d" % counter[0]), busybox_copy)
        return b

    return factory


@pytest.fixture
def bundle(make_bundle):
    return make_bundle()


# ---------------------------------------------------------------------------
# the runtime


class Runtime:
    """Runs the runtime under test with a private --root directory."""

    def __init__(self, binary, root, logdir):
        self.binary = binary
        self.root = Path(root)
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self._n = 0

    @staticmethod
    def new_id(name="c"):
        """A container id unique on this machine.

        Ids must not collide with other runs of the suite: runc (and krunc)
        derive the default cgroup path from the id alone.
        """
        return "%s-%s" % (name, uuid.uuid4().hex[:10])

    def argv(self, args, global_args=()):
        return [self.binary, "--root", str(self.root), *global_args, *args]

    def _logfiles(self):
        self._n += 1
        return (self.logdir / ("%03d.out" % self._n),
                self.logdir / ("%03d.err" % self._n))

    def run(self, args, check=None, global_args=(), timeout=COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL, env=None, pass_fds=(), cwd=None,
            prefix=()):
        """Run the runtime and wait for it; return a CompletedProcess.

        stdout/stderr go to files, never pipes: a detached container inherits
        them and would otherwise keep a pipe open forever.  The file paths are
        kept on the result as ``out_path``/``err_path`` so a test can read what
        a container wrote there later.  ``check`` True asserts exit 0, False
        asserts a non-zero exit.
        """
        out_path, err_path = self._logfiles()
        # ``prefix`` wraps the command (e.g. a shell that opens extra fds)
        argv = [*prefix, *self.argv(args, global_args)]
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            p = subprocess.run(argv, stdin=stdin, stdout=out, stderr=err,
                               timeout=timeout, env=env, pass_fds=pass_fds,
                               cwd=cwd)
        res = subprocess.CompletedProcess(
            argv, p.returncode,
            out_path.read_text(errors="replace"),
            err_path.read_text(errors="replace"))
        res.out_path, res.err_path = out_path, err_path
        if check is True:
            assert res.returncode == 0, describe(res)
        elif check is False:
            assert res.returncode != 0, describe(res)
            assert res.stderr.strip(), "no message on stderr: " + describe(res)
        return res

    def popen(self, args, global_args=(), **kw):
        """Start the runtime without waiting (for `run` in the foreground)."""
        out_path, err_path = self._logfiles()
        out, err = open(out_path, "wb"), open(err_path, "wb")
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(self.argv(args, global_args), stdout=out,
                             stderr=err, **kw)
        out.close()
        err.close()
        p.out_path, p.err_path = out_path, err_path
        return p

    # -- lifecycle helpers -------------------------------------------------

    def create(self, cid, bundle, *extra, check=True, **kw):
        if isinstance(bundle, Bundle):
            bundle.write()
            bundle = bundle.path
        return self.run(["create", "--bundle", str(bundle), *extra, cid],
                        check=check, **kw)

    def start(self, cid, check=True):
        return self.run(["start", cid], check=check)

    def state(self, cid):
        res = self.run(["state", cid], check=True)
        return json.loads(res.stdout)

    def status(self, cid):
        return self.state(cid)["status"]

    def kill(self, cid, *sig, check=True, all_=False):
        args = ["kill"] + (["--all"] if all_ else []) + [cid, *sig]
        return self.run(args, check=check)

    def delete(self, cid, force=False, check=True):
        return self.run(["delete"] + (["--force"] if force else []) + [cid],
                        check=check)

    def run_container(self, cid, bundle, *extra, check=None, **kw):
        """`run` in the foreground; returns the CompletedProcess."""
        if isinstance(bundle, Bundle):
            bundle.write()
            bundle = bundle.path
        return self.run(["run", "--bundle", str(bundle), *extra, cid],
                        check=check, **kw)

    def run_ok(self, bundle, *extra, cid=None):
        """Run a container in the foreground, assert exit 0, return stdout."""
        res = self.run_container(cid or self.new_id(), bundle, *extra)
        assert res.returncode == 0, describe(res)
        return res.stdout

    def start_detached(self, cid, bundle, *extra):
        """create + start; returns the state after start."""
        self.create(cid, bundle, *extra)
        self.start(cid)
        return self.state(cid)

    def wait_stopped(self, cid, timeout=POLL_TIMEOUT):
        wait_for(lambda: self.status(cid) == "stopped", timeout,
                 "container %s to stop" % cid)

    def leftovers(self):
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir())

    def assert_clean(self):
        left = self.leftovers()
        assert left == [], "left in --root %s: %r" % (self.root, left)


def describe(res):
    return "exit %s for %s\n--- stdout:\n%s\n--- stderr:\n%s" % (
        res.returncode, " ".join(map(str, res.args)), res.stdout, res.stderr)


def _state_pid(root, cid):
    try:
        with open(root / cid / "state.json") as f:
            st = json.load(f)
    except (OSError, ValueError):
        return None
    # runc's state.json keeps the pid under init_process_pid, the OCI
    # state under pid; look at both.
    for key in ("pid", "init_process_pid"):
        if isinstance(st.get(key), int) and st[key] > 0:
            return st[key]
    return None


@pytest.fixture
def rt(tmp_path, request, runtime_ready):
    """The runtime under test with a per-test --root.

    Teardown force-deletes whatever the test left behind.  If the test
    passed but left containers behind, the teardown fails loudly.
    """
    root = tmp_path / "root"
    runtime = Runtime(KRUNC, root, tmp_path / "logs")
    yield runtime

    left = runtime.leftovers()
    problems = []
    for cid in left:
        pid = _state_pid(root, cid)
        res = runtime.run(["delete", "--force", cid])
        if res.returncode != 0:
            problems.append("delete --force %s failed: %s" % (cid, res.stderr.strip()))
        if pid and pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            problems.append("container %s's pid %d survived delete --force" % (cid, pid))
    still = runtime.leftovers()
    if still:
        problems.append("still in --root after delete --force: %r" % still)
        for cid in still:
            shutil.rmtree(root / cid, ignore_errors=True)
    call = getattr(request.node, "rep_call", None)
    if call is not None and call.passed and (left or problems):
        pytest.fail("test left containers behind in %s: %r; %s" % (
            root, left, "; ".join(problems)), pytrace=False)
    elif problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture
def cid():
    """A unique container id for the test's (main) container."""
    return Runtime.new_id("t")


@pytest.fixture(scope="session")
def runtime_ready():
    """Fail (not skip) every runtime test clearly when it cannot run at all.

    Not autouse: other test files in this directory do not need the runtime.
    """
    if not os.access(KRUNC, os.X_OK):
        pytest.fail("runtime %s is not executable (build krunc or set KRUNC)" % KRUNC,
                    pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("the runtime integration tests must run as root", pytrace=False)
    if not os.access(BUSYBOX, os.X_OK):
        pytest.fail("%s missing: apt-get install busybox-static" % BUSYBOX, pytrace=False)


# ---------------------------------------------------------------------------
# host inspection helpers


def ns_inode(pid, ns):
    return os.readlink("/proc/%s/ns/%s" % (pid, ns))


def mountinfo(text):
    """Parse /proc/*/mountinfo text into a list of dicts."""
    mounts = []
    for line in text.splitlines():
        if not line.strip():
            continue
        pre, post = line.split(" - ", 1)
        f = pre.split()
        fstype, source, super_opts = (post.split() + ["", ""])[:3]
        mounts.append({
            "root": f[3], "mountpoint": f[4], "options": f[5].split(","),
            "optional": f[6:], "fstype": fstype, "source": source,
            "super": super_opts.split(","),
        })
    return mounts


def find_mount(mounts, mountpoint):
    """The last (topmost) mount at ``mountpoint``, or None."""
    found = [m for m in mounts if m["mountpoint"] == mountpoint]
    return found[-1] if found else None
