"""The krun executor, end to end with the libkrun test double.

The double (tests/fake-libkrun, built into <build>/tests/fake-libkrun/<variant>)
has libkrun's sonames and C API; krunc finds it through LD_LIBRARY_PATH like
the real library.  It appends one JSON line per call to $FAKE_KRUN_LOG, with
where the process was ("root": "host" or "other", "mntns", "pid"), and its
krun_start_enter reads /.krun_config.json like libkrun's guest init, runs the
workload and exits with its code.

These tests run against krunc only (krun is krunc's executor; runc has none).
"""

import ctypes
import json
import os
import select
import socket
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import (IS_KRUNC, KRUNC, REPO, Runtime, describe, installed_krunc_dynamic, lone_static_krunc,
                      pid_alive, wait_for)

pytestmark = pytest.mark.skipif(not IS_KRUNC, reason="the krun executor is krunc's own")

BUILD = Path(os.environ.get("KRUNC_BUILD", str(Path(KRUNC).resolve().parent)))
FAKE_DIR = Path(os.environ.get("FAKE_LIBKRUN_DIR", str(BUILD / "tests" / "fake-libkrun")))
KRUN_LINK = Path(KRUNC).parent / "krun"
CONFIG_FILE = ".krun_config.json"

DEVICES = {"kvm": (10, 232), "sev": (10, 124), "nitro_enclaves": (10, 122)}

# ---------------------------------------------------------------------------
# A private /dev for this module.
#
# The krun executor checks /dev/kvm (or /dev/sev, /dev/nitro_enclaves) on the
# host before anything else.  The tests must decide whether that node exists
# (the "no KVM device" path needs it gone, the sev and nitro variants need
# nodes this machine lacks) without changing the host: a node made in the
# host's devtmpfs would be seen by every other process and would outlive a
# crashed run.  So this module's pytest process moves into a mount namespace
# of its own (unshare(CLONE_NEWNS) through libc: python 3.11 has no
# os.unshare), where /dev is an overlay: lower is the host's /dev, upper a
# tmpfs of the namespace's own.  Nodes made or removed there exist only in
# that namespace, and go away with it.  Mounts below /dev (pts, shm, mqueue)
# are bound back on top.  At module end the process returns to its original
# namespace with setns(); nothing was written on the host.
# ---------------------------------------------------------------------------

CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
_libc = ctypes.CDLL(None, use_errno=True)


def _sys(ret, what):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def _mount(source, target, fstype=None, flags=0, data=None):
    enc = lambda s: None if s is None else os.fsencode(str(s))
    _sys(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
         "mount %s on %s" % (source, target))


def _mountpoints():
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


def make_node(name):
    path = Path("/dev") / name
    if os.path.lexists(path):
        os.unlink(path)
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(*DEVICES[name]))


def remove_node(name):
    path = Path("/dev") / name
    if os.path.lexists(path):
        os.unlink(path)     # a whiteout in the private upper layer


@pytest.fixture(scope="module", autouse=True)
def private_dev(tmp_path_factory):
    if not IS_KRUNC:
        yield None
        return
    base = tmp_path_factory.mktemp("krun-dev")
    host_ns = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    cwd = os.getcwd()
    _sys(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    try:
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        _mount("tmpfs", base, "tmpfs", 0, "mode=0700")
        lower, upper, work = base / "lower", base / "upper", base / "work"
        for d in (lower, upper, work):
            d.mkdir()
        below = []
        for mp in _mountpoints():
            if mp.startswith("/dev/"):
                name = mp[len("/dev/"):].split("/", 1)[0]
                if name not in below:
                    below.append(name)
        _mount("/dev", lower, flags=MS_BIND | MS_REC)
        _mount("overlay", "/dev", "overlay", 0,
               "lowerdir=%s,upperdir=%s,workdir=%s" % (lower, upper, work))
        for name in below:
            _mount(lower / name, Path("/dev") / name, flags=MS_BIND | MS_REC)
        make_node("kvm")
        yield base
    finally:
        _sys(_libc.setns(host_ns, CLONE_NEWNS), "setns back to the original mount namespace")
        os.close(host_ns)
        os.chdir(cwd)


@pytest.fixture(scope="module", autouse=True)
def fake_built():
    if IS_KRUNC and not (FAKE_DIR / "default" / "libkrun.so.1").exists():
        pytest.fail("the libkrun test double is not built: %s/default/libkrun.so.1 is missing "
                    "(build krunc with tests/fake-libkrun, or set FAKE_LIBKRUN_DIR)" % FAKE_DIR,
                    pytrace=False)


# ---------------------------------------------------------------------------
# helpers


class Krun:
    """Runs krunc with the double and reads its call log."""

    def __init__(self, rt, tmp_path):
        self.rt = rt
        self.log = tmp_path / "krun-calls.jsonl"
        self.mark = uuid.uuid4().hex
        self.empty_lib_dir = tmp_path / "no-libs"
        self.empty_lib_dir.mkdir()

    def env(self, variant="default", **extra):
        env = dict(os.environ)
        env.pop("KRUNC_LIBKRUN", None)
        for k in list(env):
            if k.startswith("FAKE_KRUN_"):
                del env[k]
        env.update({
            "LD_LIBRARY_PATH": str(FAKE_DIR / variant) if variant else str(self.empty_lib_dir),
            "FAKE_KRUN_LOG": str(self.log),
            "FAKE_KRUN_MAX_VCPUS": "64",
            # every process this test starts carries it: see leftover_processes()
            "KRUN_TEST_MARK": self.mark,
        })
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env

    def calls(self, name=None):
        if not self.log.exists():
            return []
        out = [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]
        return [c for c in out if name is None or c["call"] == name]

    def call(self, name):
        found = self.calls(name)
        assert len(found) == 1, "%s called %d times: %r" % (name, len(found), self.calls())
        return found[0]

    def vm(self):
        return self.call("krun_start_enter")["vm"]

    def reset_log(self):
        if self.log.exists():
            self.log.unlink()

    def run(self, cid, bundle, *extra, variant="default", global_args=(), env=None, **kw):
        return self.rt.run_container(cid, bundle, *extra, global_args=global_args,
                                     env=self.env(variant, **(env or {})), **kw)

    def create(self, cid, bundle, *extra, variant="default", global_args=(), env=None, check=True):
        if hasattr(bundle, "write"):
            bundle.write()
            bundle = bundle.path
        return self.rt.run(["create", "--bundle", str(bundle), *extra, cid], check=check,
                           global_args=global_args, env=self.env(variant, **(env or {})))

    def cmd(self, args, variant="default", check=None, env=None):
        return self.rt.run(args, check=check, env=self.env(variant, **(env or {})))

    def leftover_processes(self):
        """Processes started by this test's krunc invocations (they carry the mark)."""
        left = []
        needle = ("KRUN_TEST_MARK=" + self.mark).encode()
        for p in os.listdir("/proc"):
            if not p.isdigit() or int(p) == os.getpid():
                continue
            try:
                with open("/proc/%s/environ" % p, "rb") as f:
                    if needle in f.read().split(b"\0") and pid_alive(int(p)):
                        left.append(int(p))
            except OSError:
                pass
        return left

    def assert_nothing_left(self, cid, bundle):
        """No state dir, cgroup, mount, process or guest config left by cid."""
        self.rt.assert_clean()
        assert not os.path.lexists(bundle.rootfs / CONFIG_FILE), "rootfs/%s left behind" % CONFIG_FILE
        assert self.leftover_processes() == [], "processes left: %r" % self.leftover_processes()
        assert cgroup_dirs(cid) == [], "cgroups left: %r" % cgroup_dirs(cid)
        mounts = [m for m in _mountpoints() if str(bundle.path) in m]
        assert mounts == [], "mounts left: %r" % mounts


def cgroup_dirs(cid):
    found = []
    roots = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            if post.split()[0] in ("cgroup", "cgroup2"):
                roots.add(pre.split()[4])
    for root in roots:
        for dirpath, dirnames, _ in os.walk(root):
            if dirpath.count("/") - root.count("/") >= 4:
                dirnames[:] = []
            found += [os.path.join(dirpath, d) for d in dirnames if cid in d]
    return found


@pytest.fixture
def kx(rt, tmp_path):
    k = Krun(rt, tmp_path)
    yield k
    left = k.leftover_processes()
    for pid in left:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    assert left == [], "processes of this test still running: %r" % left


@pytest.fixture
def kbundle(make_bundle):
    """A bundle that asks for the krun executor."""
    b = make_bundle()
    b.config["annotations"] = {"run.oci.handler": "krun"}
    return b


def annotate(bundle, **ann):
    for k, v in ann.items():
        bundle.config["annotations"]["krun." + k] = v
    return bundle


def ordered_keys(path):
    return [k for k, _ in json.loads(Path(path).read_text(), object_pairs_hook=lambda p: p)]


def stored_config(rt, cid):
    return json.loads((rt.root / cid / "config.json").read_text())


def affinity_vcpus():
    return min(len(os.sched_getaffinity(0)), 16)


# ---------------------------------------------------------------------------
# running a VM container


def test_run_prints_output_and_exits_with_code(kx, kbundle, cid):
    kbundle.sh("echo hello from the guest; echo to-stderr >&2; exit 7")
    res = kx.run(cid, kbundle)
    assert res.returncode == 7, describe(res)
    assert res.stdout == "hello from the guest\n"
    assert "to-stderr" in res.stderr
    vm = kx.vm()
    assert vm["guest"]["argv"] == ["sh", "-c", "echo hello from the guest; echo to-stderr >&2; exit 7"]
    assert vm["guest"]["config_status"] == "ok"
    kx.assert_nothing_left(cid, kbundle)


def test_guest_gets_env_and_cwd_from_the_config(kx, kbundle, cid):
    kbundle.process["env"].append("GREETING=hi there")
    kbundle.process["cwd"] = "/tmp"
    kbundle.sh('echo "$GREETING in $(pwd)"')
    res = kx.run(cid, kbundle)
    assert res.returncode == 0, describe(res)
    assert res.stdout == "hi there in /tmp\n"
    assert "GREETING=hi there" in kx.vm()["guest"]["env"]
    assert kx.vm()["guest"]["cwd"] == "/tmp"


def test_calls_happen_in_the_right_place_and_order(kx, kbundle, cid):
    kbundle.set_args("true")
    res = kx.run(cid, kbundle)
    assert res.returncode == 0, describe(res)
    calls = kx.calls()
    names = [c["call"] for c in calls]
    create = kx.call("krun_create_ctx")
    start = kx.call("krun_start_enter")
    # the context is made on the host, before pivot_root (libkrunfw is found there)
    assert create["root"] == "host"
    assert create["ret"] >= 0
    # the VM starts inside the container: its root, its mount and pid namespaces
    assert start["root"] == "other"
    assert start["mntns"] != create["mntns"]
    assert start["pid"] == 1
    assert start["args"]["ctx_id"] == create["ret"]
    assert names.index("krun_create_ctx") < names.index("krun_set_vm_config") < names.index("krun_start_enter")
    # every call is the runtime's on the host, or the container init's in the container
    host = [c for c in calls if c["pid"] == create["pid"]]
    guest = [c for c in calls if c["pid"] == start["pid"] and c["mntns"] == start["mntns"]]
    assert len(host) + len(guest) == len(calls), calls
    assert all(c["root"] == "host" for c in host), host
    assert all(c["root"] == "other" for c in guest), guest
    # the runtime drops only its own copy of the context, the init keeps it
    assert [c["call"] for c in host if c["call"] != "krun_get_max_vcpus"] == ["krun_create_ctx", "krun_free_ctx"]
    gnames = [c["call"] for c in guest]
    assert gnames[0] == "krun_set_log_level" and gnames[-1] == "krun_start_enter"
    assert gnames.count("krun_set_log_level") == 1
    assert gnames.index("krun_set_vm_config") < gnames.index("krun_start_enter")
    for c in guest:
        if "ctx_id" in c["args"]:
            assert c["args"]["ctx_id"] == create["ret"], c
    assert kx.call("krun_set_root")["args"]["root_path"] == "/"


def test_log_level_default_debug_and_annotation(kx, make_bundle):
    def level(*global_args, **ann):
        b = make_bundle()
        b.config["annotations"] = {"run.oci.handler": "krun"}
        annotate(b, **ann).set_args("true")
        kx.reset_log()
        res = kx.run(kx.rt.new_id(), b, global_args=global_args)
        assert res.returncode == 0, describe(res)
        return kx.call("krun_set_log_level")["args"]["level"]

    assert level() == 1                 # errors only
    assert level("--debug") == 4
    assert level(log_level="warn") == 2
    assert level("--debug", log_level="0") == 0


def test_vm_size_defaults(kx, kbundle, cid):
    kbundle.set_args("true")
    res = kx.run(cid, kbundle)
    assert res.returncode == 0, describe(res)
    vm = kx.vm()
    assert vm["vcpus"] == affinity_vcpus()
    assert vm["ram_mib"] == 1024
    assert kx.call("krun_set_vm_config")["args"] == {"ctx_id": kx.call("krun_create_ctx")["ret"],
                                                      "num_vcpus": affinity_vcpus(), "ram_mib": 1024}


def test_vcpus_follow_the_affinity_mask(kx, kbundle, cid):
    kbundle.set_args("true")
    kbundle.write()
    argv = ["taskset", "-c", "0", *kx.rt.argv(["run", "--bundle", str(kbundle.path), cid])]
    p = subprocess.run(argv, env=kx.env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert kx.vm()["vcpus"] == 1


def test_vcpus_capped_by_kvm_limit(kx, kbundle, cid):
    kbundle.set_args("true")
    res = kx.run(cid, kbundle, env={"FAKE_KRUN_MAX_VCPUS": "1"})
    assert res.returncode == 0, describe(res)
    assert kx.vm()["vcpus"] == 1
    # asked on the host side, before the container exists
    assert kx.calls("krun_get_max_vcpus")[0]["root"] == "host"


@pytest.mark.parametrize("limit_mib, expected", [(512, 512), (128, 1024), (100, 1024)])
def test_ram_from_memory_limit(kx, kbundle, cid, limit_mib, expected):
    kbundle.linux.setdefault("resources", {})["memory"] = {"limit": limit_mib * 1024 * 1024}
    kbundle.set_args("true")
    res = kx.run(cid, kbundle)
    assert res.returncode == 0, describe(res)
    assert kx.vm()["ram_mib"] == expected


def test_every_annotation_reaches_libkrun(kx, kbundle, cid):
    annotate(kbundle, cpus="3", ram_mib="2048", log_level="info", nested_virt="true",
             gpu_flags="0x40", port_map="8080:80, 8443:443")
    kbundle.set_args("true")
    res = kx.run(cid, kbundle, env={"FAKE_KRUN_NESTED_VIRT": "1"})
    assert res.returncode == 0, describe(res)
    vm = kx.vm()
    assert (vm["vcpus"], vm["ram_mib"]) == (3, 2048)
    assert vm["nested_virt"] is True
    assert vm["gpu_virgl_flags"] == 0x40
    assert vm["port_map"] == [{"host": 8080, "guest": 80}, {"host": 8443, "guest": 443}]
    assert kx.call("krun_set_port_map")["args"]["port_map"] == ["8080:80", "8443:443"]
    assert kx.call("krun_set_log_level")["args"]["level"] == 3
    names = [c["call"] for c in kx.calls()]
    for fn in ("krun_set_nested_virt", "krun_set_gpu_options", "krun_set_port_map"):
        assert kx.call(fn)["root"] == "other"
        assert names.index(fn) < names.index("krun_start_enter")


def test_empty_port_map_exposes_nothing(kx, kbundle, cid):
    annotate(kbundle, port_map="").set_args("true")
    res = kx.run(cid, kbundle)
    assert res.returncode == 0, describe(res)
    assert kx.call("krun_set_port_map")["args"]["port_map"] == []


def test_no_optional_calls_unless_asked(kx, kbundle, cid):
    kbundle.set_args("true")
    res = kx.run(cid, kbundle)
    assert res.returncode == 0, describe(res)
    names = {c["call"] for c in kx.calls()}
    for fn in ("krun_set_nested_virt", "krun_set_gpu_options", "krun_set_port_map", "krun_add_net_unixstream",
               "krun_set_exec", "krun_set_env", "krun_set_tee_config_file"):
        assert fn not in names
    assert kx.vm()["port_map"] is None      # all guest listeners exposed, TSI's default


def test_rlimits_passed_to_libkrun(kx, kbundle, cid):
    kbundle.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048},
                                  {"type": "RLIMIT_NPROC", "soft": 100, "hard": 200}]
    kbundle.set_args("true")
    res = kx.run(cid, kbundle)
    assert res.returncode == 0, describe(res)
    assert kx.call("krun_set_rlimits")["args"]["rlimits"] == ["7=1024:2048", "6=100:200"]
    assert kx.vm()["guest"]["rlimits"] == "7=1024:2048,6=100:200"


# ---------------------------------------------------------------------------
# the device and the guest config


def test_device_entry_and_cgroup_rule(kx, kbundle, cid):
    kbundle.set_args("true")
    kx.create(cid, kbundle)
    cfg = stored_config(kx.rt, cid)
    st = os.stat("/dev/kvm")
    kvm = [d for d in cfg["linux"]["devices"] if d["path"] == "/dev/kvm"]
    assert kvm == [{"path": "/dev/kvm", "type": "c", "major": os.major(st.st_rdev),
                    "minor": os.minor(st.st_rdev), "fileMode": 0o666}]
    rules = cfg["linux"]["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    assert rules[-1] == {"allow": True, "type": "c", "major": 10, "minor": 232, "access": "rwm"}
    # the guest config is the same document
    guest = json.loads((kbundle.rootfs / CONFIG_FILE).read_text())
    assert guest == cfg
    kx.rt.delete(cid, force=True)


def test_device_not_added_twice_and_rule_added_without_a_list(kx, kbundle, cid):
    """The device cgroup denies all but the default nodes even when the config
    has no rules (as runc does), so the rule is added to a missing list too."""
    kbundle.linux["devices"] = [{"path": "/dev/kvm", "type": "c", "major": 10, "minor": 232, "fileMode": 0o660}]
    kbundle.linux["resources"] = {}
    kbundle.set_args("true")
    kx.create(cid, kbundle)
    cfg = stored_config(kx.rt, cid)
    assert cfg["linux"]["devices"] == [{"path": "/dev/kvm", "type": "c", "major": 10, "minor": 232,
                                        "fileMode": 0o660}]
    assert cfg["linux"]["resources"]["devices"] == [
        {"allow": True, "type": "c", "major": 10, "minor": 232, "access": "rwm"}]
    kx.rt.delete(cid, force=True)


def test_vmm_can_open_kvm_without_resources(kx, kbundle, cid):
    kbundle.linux.pop("resources", None)
    kbundle.set_args("true")
    res = kx.run(cid, kbundle)
    assert res.returncode == 0, describe(res)
    assert "cannot open /dev/kvm" not in res.stderr


def test_vmm_can_open_kvm_in_container(kx, kbundle, cid):
    """The VMM opens /dev/kvm in the container (the double does, as libkrun
    would): that takes the node (linux.devices) and the device cgroup rule."""
    kbundle.set_args("true")
    res = kx.run(cid, kbundle)
    assert res.returncode == 0, describe(res)
    assert "cannot open /dev/kvm" not in res.stderr


def test_config_file_mode_order_and_content(kx, kbundle, cid):
    # hooks first in the bundle's config; the guest file must have process first
    hooks = {"createRuntime": [{"path": "/bin/true", "args": ["true", "hook-arg"], "env": ["FROM_HOOK=1"]}]}
    kbundle.config = {"hooks": hooks, **kbundle.config}
    del kbundle.process["env"]
    kbundle.set_args("/bin/sh", "-c", "env")
    kx.create(cid, kbundle)
    path = kbundle.rootfs / CONFIG_FILE
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o444
    keys = ordered_keys(path)
    assert keys[0] == "process"
    assert keys.index("process") < keys.index("hooks")
    doc = json.loads(path.read_text())
    assert doc["process"]["args"] == ["/bin/sh", "-c", "env"]
    assert doc["process"]["env"] == []     # so the guest never takes the hook's
    kx.rt.start(kx.rt.state(cid)["id"])
    kx.rt.wait_stopped(cid)
    guest = kx.vm()["guest"]
    assert guest["argv"] == ["/bin/sh", "-c", "env"]
    assert "FROM_HOOK=1" not in guest["env"]
    kx.rt.delete(cid)
    assert not os.path.lexists(path)


def test_stale_config_file_replaced(kx, kbundle, cid):
    stale = kbundle.rootfs / CONFIG_FILE
    stale.write_text('{"process":{"args":["echo","stale"]}}')
    os.chmod(stale, 0o600)
    kbundle.set_args("echo", "fresh")
    res = kx.run(cid, kbundle)
    assert res.returncode == 0, describe(res)
    assert res.stdout == "fresh\n"
    assert not os.path.lexists(stale)


@pytest.mark.parametrize("target_exists", [True, False])
def test_symlink_at_config_path_not_written_through(kx, kbundle, cid, tmp_path, target_exists):
    outside = tmp_path / "outside.json"
    if target_exists:
        outside.write_text("precious")
    link = kbundle.rootfs / CONFIG_FILE
    os.symlink(outside, link)
    kbundle.set_args("true")
    res = kx.create(cid, kbundle, check=False)
    assert res.returncode != 0
    assert CONFIG_FILE in res.stderr and "symbolic link" in res.stderr, res.stderr
    if target_exists:
        assert outside.read_text() == "precious"
    else:
        assert not outside.exists()
    assert os.path.islink(link) and os.readlink(link) == str(outside)
    os.unlink(link)
    kx.assert_nothing_left(cid, kbundle)


def test_too_many_args_refused(kx, kbundle, cid):
    kbundle.set_args("echo", *["a%d" % i for i in range(32)])
    res = kx.create(cid, kbundle, check=False)
    assert res.returncode != 0
    assert "process.args has 33 arguments" in res.stderr and "at most 32" in res.stderr, res.stderr
    assert kx.calls() == []
    kx.assert_nothing_left(cid, kbundle)


def test_exactly_32_args_work(kx, kbundle, cid):
    kbundle.set_args("echo", *["a%d" % i for i in range(31)])
    res = kx.run(cid, kbundle, env={"FAKE_KRUN_MAX_ARGS": "32"})
    assert res.returncode == 0, describe(res)
    assert res.stdout.split() == ["a%d" % i for i in range(31)]


def test_too_many_json_tokens_refused(kx, kbundle, cid):
    kbundle.process["env"] += ["V%d=x" % i for i in range(16384)]
    kbundle.set_args("true")
    res = kx.create(cid, kbundle, check=False)
    assert res.returncode != 0
    assert "16384" in res.stderr and "JSON tokens" in res.stderr, res.stderr
    assert kx.calls() == []
    kx.assert_nothing_left(cid, kbundle)


# ---------------------------------------------------------------------------
# lifecycle


def test_create_start_kill_delete(kx, kbundle, cid):
    kbundle.sh("echo up > /tmp/up; exec sleep 1000")
    kx.create(cid, kbundle)
    st = kx.rt.state(cid)
    assert st["status"] == "created"
    pid = st["pid"]
    assert pid_alive(pid)
    assert (kbundle.rootfs / CONFIG_FILE).exists()
    # created: the VM is configured, not started
    assert kx.calls("krun_set_vm_config") and not kx.calls("krun_start_enter")
    kx.rt.start(cid)
    wait_for(lambda: kx.calls("krun_start_enter"), what="krun_start_enter")
    assert kx.rt.status(cid) == "running"
    assert kx.rt.state(cid)["pid"] == pid
    kx.rt.kill(cid, "KILL")
    kx.rt.wait_stopped(cid)
    assert not pid_alive(pid)
    kx.rt.delete(cid)
    kx.assert_nothing_left(cid, kbundle)


def test_delete_force_of_running_vm(kx, kbundle, cid):
    kbundle.set_args("sleep", "1000")
    kx.create(cid, kbundle)
    kx.rt.start(cid)
    wait_for(lambda: kx.calls("krun_start_enter"), what="krun_start_enter")
    kx.rt.delete(cid, force=True)
    kx.assert_nothing_left(cid, kbundle)


def test_run_detached(kx, kbundle, cid):
    kbundle.sh("exec sleep 1000")
    res = kx.run(cid, kbundle, "-d")
    assert res.returncode == 0, describe(res)
    assert kx.rt.status(cid) == "running"
    wait_for(lambda: kx.calls("krun_start_enter"), what="krun_start_enter")
    kx.rt.delete(cid, force=True)
    kx.assert_nothing_left(cid, kbundle)


def test_terminal_pty_is_the_vmm_stdio(kx, kbundle, cid, tmp_path):
    sock_path = tmp_path / "console.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(sock_path))
    srv.listen(1)
    srv.settimeout(30)
    kbundle.process["terminal"] = True
    kbundle.sh("test -t 0 && test -t 1 && echo tty-ok")
    kx.create(cid, kbundle, "--console-socket", str(sock_path))
    conn, _ = srv.accept()
    _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
    conn.close()
    srv.close()
    assert len(fds) == 1
    master = fds[0]
    try:
        kx.rt.start(cid)
        out = b""
        while b"tty-ok" not in out:
            r, _, _ = select.select([master], [], [], 30)
            assert r, "no output on the pty: %r" % out
            try:
                chunk = os.read(master, 4096)
            except OSError:     # EIO: the last slave fd closed
                break
            if not chunk:
                break
            out += chunk
        assert b"tty-ok" in out
    finally:
        os.close(master)
    kx.rt.wait_stopped(cid)
    kx.rt.delete(cid)
    kx.assert_nothing_left(cid, kbundle)


def test_argv0_krun_makes_every_container_a_vm(kx, bundle, cid):
    assert os.path.islink(KRUN_LINK) and os.readlink(KRUN_LINK) == "krunc"
    bundle.set_args("echo", "via krun")     # no handler annotation
    bundle.write()
    argv = [str(KRUN_LINK), "--root", str(kx.rt.root), "run", "--bundle", str(bundle.path), cid]
    p = subprocess.run(argv, env=kx.env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "via krun\n"
    assert kx.call("krun_start_enter")["root"] == "other"
    kx.assert_nothing_left(cid, bundle)


def test_plain_container_does_not_load_libkrun(kx, bundle, cid):
    bundle.set_args("echo", "plain")
    res = kx.run(cid, bundle)
    assert res.returncode == 0, describe(res)
    assert res.stdout == "plain\n"
    assert kx.calls() == []
    assert not os.path.lexists(bundle.rootfs / CONFIG_FILE)


def test_static_krunc_becomes_krunc_dynamic_for_a_vm(kx, kbundle, cid, tmp_path):
    """The static krunc cannot dlopen: it execs krunc-dynamic (same pid, same
    arguments) before anything is made, and that loads libkrun."""
    if installed_krunc_dynamic() is None:
        pytest.skip("krunc is built with -Dstatic=false: it loads libkrun itself")
    kbundle.set_args("echo", "in the vm")
    kbundle.write()
    log = tmp_path / "debug.log"
    p = kx.rt.popen(["run", "--bundle", str(kbundle.path), cid], global_args=["--debug", "--log", str(log)],
                    env=kx.env())
    assert p.wait(timeout=60) == 0, p.err_path.read_text()
    assert p.out_path.read_text() == "in the vm\n"
    helper = os.path.join(os.path.dirname(os.path.realpath(KRUNC)), "krunc-dynamic")
    assert "running %s" % helper in log.read_text()
    # the process krunc was started as is the one that created the context
    assert kx.call("krun_create_ctx")["pid"] == p.pid
    kx.assert_nothing_left(cid, kbundle)


def test_static_krunc_without_krunc_dynamic(kx, kbundle, make_bundle, cid, tmp_path):
    lone, prefix = lone_static_krunc(tmp_path)
    lone_rt = Runtime(lone, kx.rt.root, tmp_path / "lone-logs")
    kbundle.set_args("true")
    kbundle.write()
    res = lone_rt.run(["run", "--bundle", str(kbundle.path), cid], env=kx.env(), prefix=prefix)
    assert res.returncode == 1, describe(res)
    assert "loads libkrun and libsystemd through krunc-dynamic, which is missing" in res.stderr, res.stderr
    assert os.path.join(tmp_path, "krunc-dynamic") in res.stderr, res.stderr
    assert kx.calls() == [], "libkrun was loaded"
    kx.assert_nothing_left(cid, kbundle)
    # a container that needs no shared library runs with the static krunc alone
    plain = make_bundle()
    plain.set_args("echo", "plain")
    plain.write()
    res = lone_rt.run(["run", "--bundle", str(plain.path), cid], env=kx.env(), prefix=prefix)
    assert res.returncode == 0 and res.stdout == "plain\n", describe(res)
    kx.assert_nothing_left(cid, plain)


def test_features_lists_executor_and_annotations(kx):
    res = kx.cmd(["features"], check=True)
    ann = json.loads(res.stdout)["annotations"]
    assert "krun" in ann["org.krunc.executors"].split(",")
    listed = ann["org.krunc.executor.krun.annotation"].split(",")
    for a in ("krun.variant", "krun.cpus", "krun.ram_mib", "krun.log_level", "krun.nested_virt",
              "krun.gpu_flags", "krun.port_map", "krun.use_passt", "krun.tee_config", "krun.root_disk"):
        assert a in listed


def test_exec_refused(kx, kbundle, cid):
    help_ = kx.cmd(["exec", "--help"])
    if "unknown command" in help_.stderr:
        pytest.skip("this krunc has no exec command yet")
    kbundle.set_args("sleep", "1000")
    kx.create(cid, kbundle)
    kx.rt.start(cid)
    res = kx.cmd(["exec", cid, "echo", "beside the VM"])
    assert res.returncode != 0
    assert "beside the VM" not in res.stdout
    assert "microVM" in res.stderr and cid in res.stderr, res.stderr
    kx.rt.delete(cid, force=True)


# ---------------------------------------------------------------------------
# failures: a clear error, and nothing left behind


def test_no_kvm_device(kx, kbundle, cid):
    remove_node("kvm")
    try:
        kbundle.set_args("true")
        res = kx.run(cid, kbundle)
    finally:
        make_node("kvm")
    assert res.returncode != 0
    assert "/dev/kvm does not exist" in res.stderr and "KVM" in res.stderr, res.stderr
    assert kx.calls() == [], "libkrun was loaded before the device check"
    kx.assert_nothing_left(cid, kbundle)


def test_no_library(kx, kbundle, cid):
    kbundle.set_args("true")
    res = kx.run(cid, kbundle, variant=None)
    assert res.returncode != 0
    assert "cannot load libkrun.so.1" in res.stderr, res.stderr
    assert "cannot open shared object file" in res.stderr      # dlerror's words
    assert "--libkrun" in res.stderr
    kx.assert_nothing_left(cid, kbundle)


def test_library_override_flag_and_env(kx, make_bundle):
    lib = FAKE_DIR / "default" / "libkrun.so.1"
    for how in ("flag", "env"):
        b = make_bundle()
        b.config["annotations"] = {"run.oci.handler": "krun"}
        b.set_args("echo", how)
        c = kx.rt.new_id()
        kx.reset_log()
        if how == "flag":
            res = kx.run(c, b, variant=None, global_args=("--libkrun", str(lib)))
        else:
            res = kx.run(c, b, variant=None, env={"KRUNC_LIBKRUN": lib})
        assert res.returncode == 0, describe(res)
        assert res.stdout == how + "\n"
        assert kx.calls("krun_start_enter")
    res = kx.run(kx.rt.new_id(), make_bundle(), variant=None)   # not a krun bundle: no library needed
    assert res.returncode == 0, describe(res)


def test_library_override_missing(kx, kbundle, cid, tmp_path):
    missing = tmp_path / "nowhere" / "libkrun.so.1"
    kbundle.set_args("true")
    res = kx.run(cid, kbundle, global_args=("--libkrun", str(missing)))
    assert res.returncode != 0
    assert "cannot load %s" % missing in res.stderr, res.stderr
    kx.assert_nothing_left(cid, kbundle)


def test_bundle_cannot_choose_the_library(kx, kbundle, cid):
    kbundle.config["annotations"]["krun.library"] = "/tmp/evil.so"
    kbundle.config["annotations"]["krun.libkrun"] = "/tmp/evil.so"
    kbundle.set_args("true")
    res = kx.run(cid, kbundle, variant=None)
    assert res.returncode != 0
    assert "cannot load libkrun.so.1" in res.stderr


@pytest.mark.parametrize("ann, value, needs", [
    ("nested_virt", "true", "krun_set_nested_virt"),
    ("gpu_flags", "64", "krun_set_gpu_options"),
    ("port_map", "8080:80", "krun_set_port_map"),
])
def test_minimal_library_lacks_asked_feature(kx, kbundle, cid, ann, value, needs):
    annotate(kbundle, **{ann: value}).set_args("true")
    res = kx.run(cid, kbundle, variant="minimal", env={"FAKE_KRUN_NESTED_VIRT": "1"})
    assert res.returncode != 0
    assert "krun." + ann in res.stderr and needs in res.stderr, res.stderr
    assert not kx.calls("krun_create_ctx")
    kx.assert_nothing_left(cid, kbundle)


def test_minimal_library_runs_plain_vm(kx, kbundle, cid):
    kbundle.set_args("echo", "minimal")
    res = kx.run(cid, kbundle, variant="minimal")
    assert res.returncode == 0, describe(res)
    assert res.stdout == "minimal\n"
    # without krun_get_max_vcpus, the affinity mask capped at 16
    assert kx.vm()["vcpus"] == affinity_vcpus()


def test_nested_virt_disabled_on_host(kx, kbundle, cid):
    annotate(kbundle, nested_virt="true").set_args("true")
    res = kx.run(cid, kbundle, env={"FAKE_KRUN_NESTED_VIRT": "0"})
    assert res.returncode != 0
    assert "krun.nested_virt" in res.stderr and "nested virtualization" in res.stderr, res.stderr
    kx.assert_nothing_left(cid, kbundle)


@pytest.mark.parametrize("ann, value, words", [
    ("cpus", "0", "from 1 to 255"),
    ("cpus", "many", "from 1 to 255"),
    ("cpus", "300", "from 1 to 255"),
    ("ram_mib", "0", "RAM size in MiB"),
    ("ram_mib", "2G", "RAM size in MiB"),
    ("log_level", "chatty", "not a log level"),
    ("nested_virt", "sometimes", "not true or false"),
    ("gpu_flags", "0x10000", "virglrenderer flags"),
    ("port_map", "80", "HOST_PORT:GUEST_PORT"),
    ("port_map", "80:99999", "from 1 to 65535"),
    ("use_passt", "perhaps", "not true or false"),
    ("variant", "sgx", "sev, tdx or aws-nitro"),
    ("tee_config", "/x.json", "only for krun.variant"),
])
def test_bad_annotation_values(kx, kbundle, cid, ann, value, words):
    annotate(kbundle, **{ann: value}).set_args("true")
    res = kx.run(cid, kbundle)
    assert res.returncode != 0
    assert 'annotations."krun.%s"' % ann in res.stderr and words in res.stderr, res.stderr
    assert kx.calls() == [], "libkrun was used before the annotations were checked"
    kx.assert_nothing_left(cid, kbundle)


def test_cpus_above_kvm_limit(kx, kbundle, cid):
    annotate(kbundle, cpus="8").set_args("true")
    res = kx.run(cid, kbundle, env={"FAKE_KRUN_MAX_VCPUS": "4"})
    assert res.returncode != 0
    assert 'annotations."krun.cpus"' in res.stderr and "at most 4" in res.stderr, res.stderr
    kx.assert_nothing_left(cid, kbundle)


def test_unknown_handler(kx, bundle, cid):
    bundle.config["annotations"] = {"run.oci.handler": "wasm"}
    bundle.set_args("true")
    res = kx.run(cid, bundle)
    assert res.returncode != 0
    assert 'unknown handler "wasm"' in res.stderr, res.stderr
    kx.assert_nothing_left(cid, bundle)


def test_start_enter_failure_leaves_no_vmm(kx, kbundle, cid):
    kbundle.set_args("echo", "never")
    res = kx.run(cid, kbundle, env={"FAKE_KRUN_NO_KRUNFW": "1"})
    assert res.returncode != 0
    assert "never" not in res.stdout
    assert "libkrunfw" in res.stderr, res.stderr
    start = kx.call("krun_start_enter")
    assert start["ret"] < 0
    kx.assert_nothing_left(cid, kbundle)


# ---------------------------------------------------------------------------
# passt


FAKE_PASST = """#!/bin/sh
# stands in for passt: records how it was started, then holds the socket
{ echo "$*"; readlink /proc/self/ns/net; } > "$FAKE_PASST_OUT.tmp"
mv "$FAKE_PASST_OUT.tmp" "$FAKE_PASST_OUT"
exec cat <&3 >/dev/null
"""


def test_passt_runs_in_the_container_netns(kx, kbundle, cid, tmp_path):
    bindir = tmp_path / "passt-bin"
    bindir.mkdir()
    (bindir / "passt").write_text(FAKE_PASST)
    os.chmod(bindir / "passt", 0o755)
    out = tmp_path / "passt.out"
    annotate(kbundle, use_passt="true")
    kbundle.sh("readlink /proc/self/ns/net")
    res = kx.run(cid, kbundle, env={"PATH": "%s:%s" % (bindir, os.environ["PATH"]), "FAKE_PASST_OUT": out})
    assert res.returncode == 0, describe(res)
    args, netns = wait_for(lambda: out.exists() and out.read_text().splitlines(), what="passt started")
    assert args == "-t all -u all --no-dhcp-dns --no-map-gw --fd 3"
    assert netns == res.stdout.strip()
    assert netns != os.readlink("/proc/self/ns/net")
    net = kx.call("krun_add_net_unixstream")
    assert net["root"] == "other" and net["ret"] == 0
    assert kx.vm()["nics"] == 1
    # passt goes when the VMM's end of its socket closes
    wait_for(lambda: kx.leftover_processes() == [], what="passt to exit")
    kx.assert_nothing_left(cid, kbundle)


def test_passt_helper_gone_when_create_fails(kx, kbundle, cid, tmp_path):
    bindir = tmp_path / "passt-bin"
    bindir.mkdir()
    (bindir / "passt").write_text(FAKE_PASST)
    os.chmod(bindir / "passt", 0o755)
    out = tmp_path / "passt.out"
    annotate(kbundle, use_passt="true").set_args("/no/such/binary")
    kbundle.process["cwd"] = "/bin/busybox"   # a file: chdir fails in the init
    res = kx.run(cid, kbundle, env={"PATH": "%s:%s" % (bindir, os.environ["PATH"]), "FAKE_PASST_OUT": out})
    assert res.returncode != 0
    assert kx.calls("krun_create_ctx") and not kx.calls("krun_start_enter"), "create did not fail in the init"
    # the helper waited for an init that never asked: it must exit, passt never ran
    wait_for(lambda: kx.leftover_processes() == [], what="the passt helper to exit")
    assert not out.exists()
    kx.assert_nothing_left(cid, kbundle)


def test_passt_missing(kx, kbundle, cid, tmp_path):
    annotate(kbundle, use_passt="true").set_args("true")
    res = kx.run(cid, kbundle, env={"PATH": "/nonexistent"})
    assert res.returncode != 0
    assert "passt is not installed" in res.stderr, res.stderr
    kx.assert_nothing_left(cid, kbundle)


def test_passt_and_port_map_exclusive(kx, kbundle, cid):
    annotate(kbundle, use_passt="true", port_map="80:80").set_args("true")
    res = kx.run(cid, kbundle)
    assert res.returncode != 0
    assert "cannot be combined" in res.stderr, res.stderr
    kx.assert_nothing_left(cid, kbundle)


# ---------------------------------------------------------------------------
# variants


@pytest.fixture
def tee_node():
    make_node("sev")
    yield
    remove_node("sev")


def test_sev_variant(kx, kbundle, cid, tee_node):
    annotate(kbundle, variant="sev")
    kbundle.config["root"]["readonly"] = False      # libkrun opens the root disk read-write
    (kbundle.rootfs / "krun-sev.json").write_text('{"workload_id":"w","cpus":1,"ram_mib":512,"tee":"snp",'
                                                  '"tee_data":"{}","attestation_url":""}')
    (kbundle.rootfs / "disk.img").write_bytes(b"\0" * 4096)
    kbundle.set_args("echo", "confidential")
    res = kx.run(cid, kbundle, variant="sev")
    assert res.returncode == 0, describe(res)
    assert res.stdout == "confidential\n"
    assert kx.call("krun_set_root_disk")["args"]["disk_path"] == "/disk.img"
    assert kx.call("krun_set_tee_config_file")["args"]["filepath"] == "/krun-sev.json"
    assert not kx.calls("krun_set_root")
    kx.assert_nothing_left(cid, kbundle)


def test_sev_variant_needs_its_device_and_files(kx, kbundle, cid):
    annotate(kbundle, variant="sev").set_args("true")
    res = kx.run(cid, kbundle, variant="sev")
    assert res.returncode != 0
    assert "/dev/sev does not exist" in res.stderr, res.stderr
    kx.assert_nothing_left(cid, kbundle)


def test_sev_variant_missing_tee_config(kx, kbundle, cid, tee_node):
    annotate(kbundle, variant="sev").set_args("true")
    res = kx.run(cid, kbundle, variant="sev")
    assert res.returncode != 0
    assert 'annotations."krun.tee_config"' in res.stderr and "/krun-sev.json" in res.stderr, res.stderr
    kx.assert_nothing_left(cid, kbundle)


def test_sev_device_added_to_spec(kx, kbundle, cid, tee_node):
    annotate(kbundle, variant="sev", tee_config="/tee.json", root_disk="/root.img").set_args("true")
    (kbundle.rootfs / "tee.json").write_text("{}")
    (kbundle.rootfs / "root.img").write_bytes(b"\0" * 512)
    kx.create(cid, kbundle, variant="sev")
    cfg = stored_config(kx.rt, cid)
    # an SEV VMM opens both the KVM and the SEV device
    devs = [d for d in cfg["linux"]["devices"] if d["path"] in ("/dev/kvm", "/dev/sev")]
    assert devs == [{"path": "/dev/kvm", "type": "c", "major": 10, "minor": 232, "fileMode": 0o666},
                    {"path": "/dev/sev", "type": "c", "major": 10, "minor": 124, "fileMode": 0o666}]
    assert [(r.get("major"), r.get("minor")) for r in cfg["linux"]["resources"]["devices"][-2:]] == \
        [(10, 232), (10, 124)]
    assert kx.call("krun_set_tee_config_file")["args"]["filepath"] == "/tee.json"
    assert kx.call("krun_set_root_disk")["args"]["disk_path"] == "/root.img"
    kx.rt.delete(cid, force=True)
    kx.assert_nothing_left(cid, kbundle)


def test_tdx_variant_limits(kx, kbundle, cid):
    annotate(kbundle, variant="tdx", cpus="2").set_args("true")
    res = kx.run(cid, kbundle, variant="tdx")
    assert res.returncode != 0
    assert "one vCPU" in res.stderr, res.stderr
    kx.assert_nothing_left(cid, kbundle)


def test_variant_library_missing(kx, kbundle, cid, tee_node):
    annotate(kbundle, variant="sev").set_args("true")
    (kbundle.rootfs / "krun-sev.json").write_text("{}")
    (kbundle.rootfs / "disk.img").write_bytes(b"\0")
    res = kx.run(cid, kbundle, variant="default")      # only libkrun.so.1 is there
    assert res.returncode != 0
    assert "cannot load libkrun-sev.so.1" in res.stderr, res.stderr
    kx.assert_nothing_left(cid, kbundle)


def test_default_variant_refuses_tee_library(kx, kbundle, cid, tmp_path):
    """A library without krun_set_root (a TEE build) cannot run a plain VM container."""
    kbundle.set_args("true")
    res = kx.run(cid, kbundle, variant=None,
                 global_args=("--libkrun", str(FAKE_DIR / "sev" / "libkrun-sev.so.1")))
    assert res.returncode != 0
    assert "krun_set_root" in res.stderr, res.stderr
    kx.assert_nothing_left(cid, kbundle)


@pytest.fixture
def nitro_node():
    make_node("nitro_enclaves")
    yield
    remove_node("nitro_enclaves")


def test_aws_nitro_variant(kx, kbundle, cid, nitro_node):
    annotate(kbundle, variant="aws-nitro")
    kbundle.sh("echo in the enclave; exit 3")
    res = kx.run(cid, kbundle, variant="awsnitro")
    assert res.returncode == 3, describe(res)
    assert "in the enclave" in res.stdout
    ex = kx.call("krun_set_exec")["args"]
    assert ex["exec_path"] == "sh" and ex["argv"] == ["-c", "echo in the enclave; exit 3"]
    assert kx.call("krun_set_console_output")["args"]["filepath"] == "/dev/stdout"
    assert not kx.calls("krun_set_root")
    kx.assert_nothing_left(cid, kbundle)
