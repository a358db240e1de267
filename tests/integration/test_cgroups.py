"""Cgroups on this machine's real hierarchies, through tests/helpers/cgtool (the cgroup module
driven directly: it forks a command, puts it in a new cgroup before it runs, and removes the
cgroup after). Values are read back from the kernel's files, and the effects are checked:
fork refused over pids.limit, OOM kill, a frozen process not running, a device denied.

Run as root: /usr/bin/python3 -m pytest tests/integration/test_cgroups.py
"""
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import IS_KRUNC, KRUNC, installed_krunc_dynamic

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("KRUNC_BUILD", os.path.join(ROOT, "build"))
CGTOOL = os.path.join(BUILD, "tests", "helpers", "cgtool")
CG = "/sys/fs/cgroup"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not os.path.exists(CGTOOL), reason="build first: %s missing" % CGTOOL),
]


def layout():
    st = os.statvfs(CG)
    with open("/proc/self/mountinfo") as f:
        kinds = {line.split(" - ")[1].split()[0] for line in f if " - cgroup" in line}
    if kinds == {"cgroup2"}:
        return "v2"
    return "hybrid" if "cgroup2" in kinds else "v1"


LAYOUT = layout()


def v1_dir(ctrl, path):
    """The directory of cgroup path in the v1 hierarchy holding ctrl, or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ")
            fstype, _, opts = right.split()[:3]
            if fstype == "cgroup" and ctrl in opts.split(","):
                return left.split()[4] + path
    return None


def v2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    return None


def read(path):
    with open(path) as f:
        return f.read().strip()


def cgtool(*args, check=True, **kw):
    p = subprocess.run([CGTOOL, *args], capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError("cgtool %s: rc %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


@pytest.fixture
def cid():
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


@pytest.fixture(autouse=True)
def no_leftovers(cid):
    """Every test leaves no cgroup of its own behind (other users of this machine may have
    theirs), and the v2 root's controllers as they were."""
    v2 = v2_mount()
    before = read(os.path.join(v2, "cgroup.subtree_control")) if v2 else None
    yield
    leftovers = []
    for h in os.listdir(CG):
        for d in (os.path.join(CG, h, "krunc", cid), os.path.join(CG, h, "krunc-test-" + cid)):
            if os.path.isdir(d):
                leftovers.append(d)
    if v2:
        after = set(read(os.path.join(v2, "cgroup.subtree_control")).split())
        for c in after - set(before.split()):
            try:
                with open(os.path.join(v2, "cgroup.subtree_control"), "w") as f:
                    f.write("-" + c)
            except OSError:
                pass    # in use by someone else's cgroup
    assert not leftovers, "cgroups left behind: %s" % leftovers


def resources_file(tmp, res):
    p = tmp / "resources.json"
    p.write_text(json.dumps(res))
    return str(p)


class Detached:
    """A command left running in its cgroup; always removed at the end."""

    def __init__(self, tmp, cid, cmd, res=None, path=None):
        self.state = str(tmp / ("%s.state.json" % cid))
        args = ["run", "-d", "-i", cid, "-s", self.state]
        if res is not None:
            args += ["-r", resources_file(tmp, res)]
        if path:
            args += ["-p", path]
        # the command inherits cgtool's stdout: a file, so nothing waits for it to close
        out, err = tmp / ("%s.out" % cid), tmp / ("%s.err" % cid)
        with open(out, "w") as fo, open(err, "w") as fe:
            p = subprocess.run([CGTOOL, *args, "--", *cmd], stdin=subprocess.DEVNULL, stdout=fo, stderr=fe)
        assert p.returncode == 0, err.read_text()
        self.pid = int(out.read_text().split()[0])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        cgtool("kill", self.state, "KILL", check=False)
        cgtool("destroy", self.state)

    def json(self):
        with open(self.state) as f:
            return json.load(f)


def gone(pid):
    """The process has exited (it is cgtool's orphan: whoever reaps it may not have yet)."""
    try:
        return read("/proc/%d/stat" % pid).rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def wait_for(cond, what, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError("timed out waiting for " + what)


# ---- placement ----

def test_placement_every_hierarchy_and_removal(cid, tmp):
    state = str(tmp / "s.json")
    p = cgtool("run", "-i", cid, "-s", state, "-k", "--", "cat", "/proc/self/cgroup")
    lines = [l.split(":", 2) for l in p.stdout.splitlines()]
    assert lines, p.stdout
    for hid, ctrls, path in lines:
        assert path == "/krunc/" + cid, "hierarchy %s:%s is at %s" % (hid, ctrls, path)
    desc = json.load(open(state))
    assert desc["layout"] == LAYOUT
    assert desc["path"] == "/krunc/" + cid
    dirs = [d["path"] for d in desc["dirs"]]
    for d in dirs:
        assert os.path.isdir(d)
    cgtool("destroy", state)
    for d in dirs:
        assert not os.path.exists(d)
        # /krunc is krunc's own parent: gone with its last child (others may be using it)
        parent = os.path.dirname(d)
        assert not os.path.exists(parent) or any(os.path.isdir(os.path.join(parent, x)) for x in os.listdir(parent))


def test_hybrid_has_the_unified_mount_too(cid, tmp):
    if LAYOUT != "hybrid":
        pytest.skip("this machine is not hybrid (layout %s)" % LAYOUT)
    state = str(tmp / "s.json")
    cgtool("run", "-i", cid, "-s", state, "--", "true")
    desc = json.load(open(state))
    v2 = [d for d in desc["dirs"] if d["v2"]]
    assert len(v2) == 1 and v2[0]["path"] == v2_mount() + "/krunc/" + cid
    assert any(not d["v2"] for d in desc["dirs"])


def test_custom_path_parents_made_and_removed(cid, tmp):
    path = "/krunc-test-%s/a/b" % cid
    with Detached(tmp, cid, ["sleep", "100"], path=path) as c:
        desc = c.json()
        assert all(d["created"] == 3 for d in desc["dirs"])
        pids = cgtool("pids", c.state).stdout.split()
        assert str(c.pid) in pids
    for h in os.listdir(CG):
        assert not os.path.exists(os.path.join(CG, h, "krunc-test-" + cid))


def test_relative_path_is_below_own_cgroup(cid, tmp):
    own = {}
    for line in read("/proc/self/cgroup").splitlines():
        hid, ctrls, path = line.split(":", 2)
        own[ctrls] = path
    p = cgtool("run", "-p", "rel-" + cid, "--", "cat", "/proc/self/cgroup")
    for line in p.stdout.splitlines():
        hid, ctrls, path = line.split(":", 2)
        base = own[ctrls].rstrip("/")
        if hid == "0":
            # v2: below the parent of our own cgroup, as runc places it
            base = os.path.dirname(own[ctrls]).rstrip("/") if own[ctrls] != "/" else ""
        assert path == base + "/rel-" + cid, (line, own[ctrls])
    for h in os.listdir(CG):
        assert not os.path.exists(os.path.join(CG, h, "rel-" + cid))


def test_existing_cgroup_with_processes_refused(cid, tmp):
    path = "/krunc/" + cid
    with Detached(tmp, cid, ["sleep", "100"]):
        p = cgtool("run", "-p", path, "--", "true", check=False)
        assert p.returncode != 0
        assert "already exists and has processes" in p.stderr


def test_kill_all_and_pids(cid, tmp):
    with Detached(tmp, cid, ["sh", "-c", "sleep 100 & sleep 100 & wait"]) as c:
        wait_for(lambda: len(cgtool("pids", c.state).stdout.split()) == 3, "3 processes")
        pids = [int(x) for x in cgtool("pids", c.state).stdout.split()]
        assert c.pid in pids
        cgtool("kill", c.state, "TERM")
        wait_for(lambda: cgtool("pids", c.state).stdout.split() == [], "every process gone")
        for p in pids:
            wait_for(lambda: gone(p), "process %d gone" % p)


def test_destroy_kills_leftovers(cid, tmp):
    # the command's children outlive it; delete must not leave them or the cgroup
    state = str(tmp / "s.json")
    cgtool("run", "-i", cid, "-s", state, "-k", "--", "sh", "-c", "sleep 1000 >/dev/null 2>&1 & echo $!")
    desc = json.load(open(state))
    left = read(desc["dirs"][0]["path"] + "/cgroup.procs").split()
    assert len(left) == 1
    cgtool("destroy", state)
    for d in desc["dirs"]:
        assert not os.path.exists(d["path"])
    wait_for(lambda: gone(int(left[0])), "the leftover process killed")


# ---- resources: values and effects ----

def test_values_written_v1_and_v2(cid, tmp):
    res = {
        "memory": {"limit": 64 << 20, "reservation": 32 << 20},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 50},
    }
    with Detached(tmp, cid, ["sleep", "100"], res=res) as c:
        path = "/krunc/" + cid
        if LAYOUT == "v2":
            base = v2_mount() + path
            assert read(base + "/memory.max") == str(64 << 20)
            assert read(base + "/memory.low") == str(32 << 20)
            assert read(base + "/cpu.weight") == "20"      # 1 + (512-2)*9999/262142
            assert read(base + "/cpu.max") == "50000 100000"
            assert read(base + "/pids.max") == "50"
            assert read(base + "/cpuset.cpus") == "0"
        else:
            assert read(v1_dir("memory", path) + "/memory.limit_in_bytes") == str(64 << 20)
            assert read(v1_dir("memory", path) + "/memory.soft_limit_in_bytes") == str(32 << 20)
            assert read(v1_dir("cpu", path) + "/cpu.shares") == "512"
            assert read(v1_dir("cpu", path) + "/cpu.cfs_quota_us") == "50000"
            assert read(v1_dir("cpu", path) + "/cpu.cfs_period_us") == "100000"
            assert read(v1_dir("cpuset", path) + "/cpuset.cpus") == "0"
            assert read(v1_dir("pids", path) + "/pids.max") == "50"
        # the process runs where the limits are
        assert ("/krunc/" + cid) in read("/proc/%d/cgroup" % c.pid)


def test_pids_limit_blocks_fork(cid, tmp):
    res = resources_file(tmp, {"pids": {"limit": 3}})
    # the shell and two sleeps fit; the third sleep does not
    p = cgtool("run", "-i", cid, "-r", res, "--", "sh", "-c", "sleep 1 & sleep 1 & sleep 1 & wait", check=False)
    assert "fork" in p.stderr.lower(), p.stderr
    p = cgtool("run", "-i", cid, "-r", res, "--", "sh", "-c", "sleep 0.1 & wait")
    assert p.returncode == 0


def test_memory_limit_oom_kills(cid, tmp):
    res = {"memory": {"limit": 32 << 20, "swap": 32 << 20}}
    state = str(tmp / "s.json")
    # tail keeps the whole (newline-free) line in memory, and is killed; should the kernel
    # pick a second task while tail's memory is freed, head goes next, not the reporting shell
    p = cgtool("run", "-i", cid, "-r", resources_file(tmp, res), "-s", state, "-k", "--",
               "sh", "-c", "(echo 900 > /proc/self/oom_score_adj; exec head -c 200M /dev/zero) | "
               "(echo 1000 > /proc/self/oom_score_adj; exec tail -n 1) >/dev/null; echo status=$?", check=False)
    assert "status=137" in p.stdout, p.stdout + p.stderr
    try:
        desc = json.load(open(state))
        if LAYOUT == "v2":
            events = read(v2_mount() + "/krunc/%s/memory.events" % cid)
            assert "oom_kill 1" in events, events
        else:
            oom = read(v1_dir("memory", "/krunc/" + cid) + "/memory.oom_control")
            assert "oom_kill 1" in oom, oom
    finally:
        cgtool("destroy", state)
    assert desc


def test_freezer_stops_the_process(cid, tmp):
    out = tmp / "count"
    with Detached(tmp, cid, ["sh", "-c", "while :; do echo x; done > %s" % out]) as c:
        wait_for(lambda: out.exists() and out.stat().st_size > 0, "the loop to start")
        cgtool("freeze", c.state, "1")
        assert cgtool("frozen", c.state).stdout.strip() == "1"
        size = out.stat().st_size
        time.sleep(0.3)
        assert out.stat().st_size == size, "a frozen process wrote"
        cgtool("freeze", c.state, "0")
        assert cgtool("frozen", c.state).stdout.strip() == "0"
        wait_for(lambda: out.stat().st_size > size, "the thawed process to run again")


def test_destroy_of_frozen_container(cid, tmp):
    c = Detached(tmp, cid, ["sleep", "100"])
    state, pid = c.state, c.pid
    cgtool("freeze", state, "1")
    # destroy alone: kills what is left, thaws it so it can die, removes every directory
    cgtool("destroy", state)
    wait_for(lambda: gone(pid), "the frozen process killed")
    for d in json.load(open(state))["dirs"]:
        assert not os.path.exists(d["path"])


def test_kill_of_frozen_container(cid, tmp):
    with Detached(tmp, cid, ["sleep", "100"]) as c:
        cgtool("freeze", c.state, "1")
        assert cgtool("frozen", c.state).stdout.strip() == "1"
        cgtool("kill", c.state, "KILL")
        wait_for(lambda: gone(c.pid), "the frozen process killed")


KMSG_PROBE = ("dd if=/dev/kmsg of=/dev/null bs=1 count=0 2>/dev/null && echo R-ok || echo R-denied; "
              "(printf '' > /dev/kmsg) 2>/dev/null && echo W-ok || echo W-denied")


@pytest.mark.parametrize("rules,want", [
    ([{"allow": False, "access": "rwm"}], "R-denied W-denied"),
    ([{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"}], "R-ok W-denied"),
    ([{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 11, "access": "w"}], "R-ok W-denied"),
    ([{"allow": True, "access": "rwm"}], "R-ok W-ok"),
    ([{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "access": "rw"}], "R-ok W-ok"),
])
def test_devices_cgroup(cid, tmp, rules, want):
    """The rules through the layout's own device controller (v1 devices here)."""
    res = resources_file(tmp, {"devices": rules})
    p = cgtool("run", "-i", cid, "-r", res, "--", "sh", "-c", KMSG_PROBE)
    assert " ".join(p.stdout.split()) == want
    # the default devices stay usable whatever the rules say
    p = cgtool("run", "-i", cid, "-r", res, "--", "sh", "-c", "head -c 1 /dev/zero >/dev/null && echo > /dev/null && echo ok")
    assert p.stdout.strip() == "ok"


@pytest.mark.parametrize("rules,want", [
    ([{"allow": False, "access": "rwm"}], "R-denied W-denied"),
    ([{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"}], "R-ok W-denied"),
    ([{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 11, "access": "w"}], "R-ok W-denied"),
    ([{"allow": True, "access": "rwm"}], "R-ok W-ok"),
    ([{"allow": False, "access": "rwm"}, {"allow": True, "type": "b", "access": "rwm"}], "R-denied W-denied"),
])
def test_devices_v2_ebpf_program(tmp, rules, want):
    """The eBPF program alone, in a cgroup of the v2 mount only (on a hybrid host the v1 devices
    controller does not see it)."""
    if not v2_mount():
        pytest.skip("no cgroup v2 mount on this machine")
    res = resources_file(tmp, {"devices": rules})
    p = cgtool("bpf-run", res, "--", "sh", "-c", KMSG_PROBE)
    assert " ".join(p.stdout.split()) == want


def test_hugetlb_through_the_v2_mount(cid, tmp):
    if not os.path.exists("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        pytest.skip("no 2MB huge pages on this machine")
    res = {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]}
    with Detached(tmp, cid, ["sleep", "100"], res=res):
        f = v1_dir("hugetlb", "/krunc/%s/hugetlb.2MB.limit_in_bytes" % cid)
        if f is None:
            f = v2_mount() + "/krunc/%s/hugetlb.2MB.max" % cid
        assert read(f) == str(4 << 20)


def test_update_running(cid, tmp):
    with Detached(tmp, cid, ["sleep", "100"], res={"pids": {"limit": 10}}) as c:
        upd = tmp / "upd.json"
        upd.write_text(json.dumps({"pids": {"limit": 20}, "memory": {"limit": 128 << 20}}))
        cgtool("update", c.state, str(upd))
        if LAYOUT == "v2":
            assert read(v2_mount() + "/krunc/%s/pids.max" % cid) == "20"
            assert read(v2_mount() + "/krunc/%s/memory.max" % cid) == str(128 << 20)
        else:
            assert read(v1_dir("pids", "/krunc/%s/pids.max" % cid)) == "20"
            assert read(v1_dir("memory", "/krunc/%s/memory.limit_in_bytes" % cid)) == str(128 << 20)
        upd.write_text(json.dumps({"pids": {"limit": -1}}))
        cgtool("update", c.state, str(upd))
        f = v2_mount() + "/krunc/%s/pids.max" % cid if LAYOUT == "v2" else v1_dir("pids", "/krunc/%s/pids.max" % cid)
        assert read(f) == "max"


# ---- what this host cannot do, and bad input ----

@pytest.mark.parametrize("res,want", [
    ({"memory": {"limit": "64M"}}, "linux.resources.memory.limit: expected an integer"),
    ({"cpu": {"cpus": "0-x"}}, "linux.resources.cpu.cpus:"),
    ({"devices": [{"allow": True, "type": "q"}]}, "linux.resources.devices[0].type:"),
    ({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}, "linux.resources.hugepageLimits[0].pageSize: this host has no 3MB huge pages"),
])
def test_bad_resources_refused_and_nothing_left(cid, tmp, res, want):
    p = cgtool("run", "-i", cid, "-r", resources_file(tmp, res), "--", "true", check=False)
    assert p.returncode != 0
    assert want in p.stderr, p.stderr


def test_unavailable_controllers_named(cid, tmp):
    if v1_dir("net_cls", "") is None:
        p = cgtool("run", "-i", cid, "-r", resources_file(tmp, {"network": {"classID": 1}}), "--", "true", check=False)
        assert p.returncode != 0 and "linux.resources.network.classID: this host has no net_cls controller" in p.stderr
    if LAYOUT == "hybrid" and v1_dir("memory", ""):
        p = cgtool("run", "-i", cid, "-r", resources_file(tmp, {"unified": {"memory.high": "1"}}), "--", "true", check=False)
        assert p.returncode != 0
        assert "linux.resources.unified.memory.high: the memory controller is not on cgroup v2 on this host" in p.stderr
    if LAYOUT == "v1":
        p = cgtool("run", "-i", cid, "-r", resources_file(tmp, {"unified": {"memory.high": "1"}}), "--", "true", check=False)
        assert "needs cgroup v2" in p.stderr


def test_systemd_cgroup_without_systemd(cid, tmp):
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd is running on this machine")
    p = cgtool("run", "--systemd", "-i", cid, "-p", "system.slice:krunc:" + cid, "--", "true", check=False)
    assert p.returncode != 0
    assert "systemd is not running (not PID 1)" in p.stderr
    for h in os.listdir(CG):
        assert not os.path.exists(os.path.join(CG, h, "system.slice", "krunc-%s.scope" % cid))


# ---- rootless ----

def as_nobody(args):
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", CGTOOL, *args]


@pytest.fixture
def open_tmp():
    """A directory the unprivileged user can use (pytest's own is private to root)."""
    d = tempfile.mkdtemp(prefix="krunc-cgtest-")
    os.chmod(d, 0o777)
    yield d
    shutil.rmtree(d)


def test_rootless_without_limits_runs_without_cgroup(cid, open_tmp):
    state = os.path.join(open_tmp, "s.json")
    p = subprocess.run(as_nobody(["run", "-i", cid, "-s", state, "--", "cat", "/proc/self/cgroup"]),
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "/krunc/" not in p.stdout
    assert open(state).read().strip() == "null"


def test_rootless_with_limits_fails_clearly(cid, open_tmp):
    res = os.path.join(open_tmp, "resources.json")
    with open(res, "w") as f:
        json.dump({"memory": {"limit": 64 << 20}}, f)
    os.chmod(res, 0o644)
    p = subprocess.run(as_nobody(["run", "-i", cid, "-r", res, "--", "true"]), capture_output=True, text=True)
    assert p.returncode != 0
    assert "linux.resources.memory: cannot create cgroup" in p.stderr, p.stderr
    assert "Permission denied" in p.stderr


# ---- stats and OOM notifications (the parts `events` is made of) ----

def test_stats_shape_and_values(cid, tmp):
    res = {"memory": {"limit": 64 << 20}, "pids": {"limit": 30}}
    with Detached(tmp, cid, ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 100 & wait"],
                  res=res) as c:
        wait_for(lambda: len(cgtool("pids", c.state).stdout.split()) == 2, "the busy loop to finish")
        s = json.loads(cgtool("stats", c.state).stdout)
        for key in ("cpu", "cpuset", "memory", "pids", "blkio", "hugetlb"):
            assert key in s, key
        assert s["cpu"]["usage"]["total"] > 0
        assert "kernel" in s["cpu"]["usage"] and "user" in s["cpu"]["usage"]
        assert s["memory"]["usage"]["limit"] == 64 << 20
        assert s["memory"]["usage"]["usage"] > 0
        assert s["memory"]["raw"]
        assert s["pids"] == {"current": 2, "limit": 30}
        assert s["cpuset"]["cpus"]


def test_oom_notification(cid, tmp):
    go = tmp / "go"
    os.mkfifo(go)
    res = {"memory": {"limit": 32 << 20, "swap": 32 << 20}}
    hog = ("read x < %s; head -c 200M /dev/zero | (echo 1000 > /proc/self/oom_score_adj; exec tail -n 1) >/dev/null; "
           "sleep 100" % go)
    with Detached(tmp, cid, ["sh", "-c", hog], res=res) as c:
        w = subprocess.Popen([CGTOOL, "oom", c.state], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def line():
            # a missed event must fail the test, not hang it
            if not select.select([w.stdout], [], [], 30)[0]:
                w.kill()
                raise AssertionError("no line from cgtool oom within 30 s")
            return w.stdout.readline().strip()

        assert line() == "watching"
        with open(go, "w") as f:
            f.write("go\n")
        assert line() == "oom"
    # the cgroup is gone: the watcher says so and ends
    out, err = w.communicate(timeout=10)
    assert out.strip().splitlines()[-1] == "gone", (out, err)
    assert w.returncode == 0


# ---- the v2 code paths for real: this host's cgroup2 hierarchy mounted on /sys/fs/cgroup in a
# private mount namespace, so krunc sees a cgroup v2 host (with the controllers v1 has not taken) ----

def in_v2(script, tmp, check=True):
    """Run script (sh) in a mount namespace where /sys/fs/cgroup is the cgroup2 hierarchy."""
    if not v2_mount():
        pytest.skip("no cgroup v2 hierarchy on this machine")
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-ec",
                        "mount -t cgroup2 none /sys/fs/cgroup\n" + script],
                       env={**os.environ, "T": CGTOOL, "D": str(tmp)}, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    if check:
        assert p.returncode == 0, "rc %d\n%s%s" % (p.returncode, p.stdout, p.stderr)
    return p


def test_v2_placement_and_removal(cid, tmp):
    p = in_v2('$T run -i %s -s $D/s.json -k -- cat /proc/self/cgroup\n'
              'cat $D/s.json; echo\n'
              'test -d /sys/fs/cgroup/krunc/%s && echo made\n'
              '$T destroy $D/s.json\n'
              'test -d /sys/fs/cgroup/krunc/%s || echo removed\n' % (cid, cid, cid), tmp)
    lines = p.stdout.splitlines()
    assert "0::/krunc/" + cid in lines
    desc = json.loads([l for l in lines if l.startswith("{")][0])
    assert desc["layout"] == "v2" and desc["dirs"][0]["v2"]
    assert "made" in lines and "removed" in lines


def test_v2_freezer(cid, tmp):
    p = in_v2('$T run -d -i %s -s $D/s.json -- sh -c "while :; do echo x; done > $D/count" >$D/pid\n'
              'while [ ! -s $D/count ]; do sleep 0.01; done\n'
              '$T freeze $D/s.json 1\n'
              '$T frozen $D/s.json\n'
              'cat /sys/fs/cgroup/krunc/%s/cgroup.freeze; grep frozen /sys/fs/cgroup/krunc/%s/cgroup.events\n'
              'a=$(stat -c %%s $D/count); sleep 0.3; b=$(stat -c %%s $D/count); [ "$a" = "$b" ] && echo stopped\n'
              '$T freeze $D/s.json 0\n'
              '$T frozen $D/s.json\n'
              '$T kill $D/s.json KILL\n'
              '$T destroy $D/s.json\n' % (cid, cid, cid), tmp)
    assert p.stdout.split() == ["1", "1", "frozen", "1", "stopped", "0"], p.stdout


def test_v2_kill_all_with_cgroup_kill(cid, tmp):
    p = in_v2('$T run -d -i %s -s $D/s.json -- sh -c "sleep 100 & sleep 100 & wait" >$D/pid\n'
              'while [ "$($T pids $D/s.json | wc -l)" != 3 ]; do sleep 0.01; done\n'
              '$T kill $D/s.json KILL\n'
              'while [ -n "$($T pids $D/s.json)" ]; do sleep 0.01; done; echo empty\n'
              '$T destroy $D/s.json\n' % cid, tmp)
    assert p.stdout.split() == ["empty"]


@pytest.mark.parametrize("rules,want", [
    ([{"allow": False, "access": "rwm"}], "R-denied W-denied"),
    ([{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"}],
     "R-ok W-denied"),
])
def test_v2_devices_through_create(cid, tmp, rules, want):
    (tmp / "res.json").write_text(json.dumps({"devices": rules}))
    p = in_v2('$T run -i %s -r $D/res.json -- sh -c "%s"\n' % (cid, KMSG_PROBE.replace('"', '\\"')), tmp)
    assert " ".join(p.stdout.split()) == want


def test_v2_unavailable_controller_and_hugetlb(cid, tmp):
    (tmp / "mem.json").write_text(json.dumps({"memory": {"limit": 1 << 26}}))
    p = in_v2('$T run -i %s -r $D/mem.json -- true' % cid, tmp, check=False)
    assert p.returncode != 0
    assert "linux.resources.memory: this host has no memory controller (cgroup layout v2)" in p.stderr
    if not os.path.exists("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        return
    (tmp / "huge.json").write_text(json.dumps({"hugepageLimits": [{"pageSize": "2MB", "limit": 2 << 20}]}))
    p = in_v2('$T run -i %s -r $D/huge.json -- cat /sys/fs/cgroup/krunc/%s/hugetlb.2MB.max' % (cid, cid), tmp)
    assert p.stdout.strip() == str(2 << 20)


def test_v2_stats_and_update(cid, tmp):
    (tmp / "upd.json").write_text(json.dumps({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]}))
    p = in_v2('$T run -d -i %s -s $D/s.json -- sh -c "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 100" '
              '>$D/pid\n'
              '$T update $D/s.json $D/upd.json\n'
              'cat /sys/fs/cgroup/krunc/%s/hugetlb.2MB.max\n'
              '$T stats $D/s.json\n'
              '$T kill $D/s.json KILL\n'
              '$T destroy $D/s.json\n' % (cid, cid), tmp)
    lines = p.stdout.splitlines()
    assert lines[0] == str(4 << 20)
    s = json.loads(lines[1])
    assert s["cpu"]["usage"]["total"] > 0
    assert s["hugetlb"]["2MB"]["max"] == 4 << 20


# ---- --systemd-cgroup through D-Bus, against tests/helpers/fake-systemd on a private bus, in a
# mount namespace where /run/systemd/system exists (systemd is not PID 1 on this machine) ----

FAKE_SYSTEMD = os.path.join(BUILD, "tests", "helpers", "fake-systemd")

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


def with_fake_systemd(script, tmp, v2):
    if not os.path.exists(FAKE_SYSTEMD):
        pytest.skip("fake-systemd not built (needs libsystemd-dev)")
    if not shutil.which("dbus-daemon"):
        pytest.skip("no dbus-daemon on this machine")
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd runs on this machine: not faking it")
    bus = tmp / "bus"
    (tmp / "bus.conf").write_text(BUS_CONF % bus)
    cgroot = "/sys/fs/cgroup" if v2 else v2_mount()
    setup = ("mount -t cgroup2 none /sys/fs/cgroup\n" if v2 else "") + """
mount -t tmpfs tmpfs /run/systemd
mkdir /run/systemd/system
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$D/bus
dbus-daemon --config-file=$D/bus.conf --nofork --nopidfile 2>/dev/null & DB=$!
trap 'kill $DB $FK 2>/dev/null' EXIT
while [ ! -S $D/bus ]; do sleep 0.01; done
$F %s $D/calls > $D/fake.out 2>&1 & FK=$!
while ! grep -q ready $D/fake.out; do sleep 0.01; done
""" % cgroot
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", setup + script],
                          env={**os.environ, "T": CGTOOL, "F": FAKE_SYSTEMD, "D": str(tmp), "K": KRUNC},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("v2", [True, False], ids=["v2", "host-layout"])
def test_systemd_scope_over_dbus(cid, tmp, v2):
    (tmp / "res.json").write_text(json.dumps({"pids": {"limit": 20}} if not v2 else {}))
    p = with_fake_systemd("""
$T run --systemd -i %(cid)s -p machine.slice:krunc:%(cid)s -r $D/res.json -s $D/s.json -k -- cat /proc/self/cgroup
echo ---
cat /sys/fs/cgroup/pids/machine.slice/krunc-%(cid)s.scope/pids.max 2>/dev/null || true
$T destroy $D/s.json && echo destroyed
""" % {"cid": cid}, tmp, v2)
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout.split("---\n")[0]
    scope = "/machine.slice/krunc-%s.scope" % cid
    assert "0::" + scope in out.splitlines()
    if not v2:
        assert p.stdout.split("---\n")[1].splitlines()[0] == "20", p.stdout
        # the v1 hierarchies systemd does not manage are joined by krunc itself
        assert all(l.endswith(scope) for l in out.splitlines() if not l.startswith(tuple("0"))), out
    calls = (tmp / "calls").read_text().splitlines()
    start = [c for c in calls if c.startswith("StartTransientUnit krunc-%s.scope" % cid)]
    assert start and "Slice=machine.slice" in start[0] and "Delegate=1" in start[0] and "PIDs=1" in start[0]
    assert "StopUnit krunc-%s.scope mode=replace" % cid in calls
    assert "destroyed" in p.stdout
    desc = json.load(open(tmp / "s.json"))
    assert desc["systemd"]["unit"] == "krunc-%s.scope" % cid
    for d in desc["dirs"]:
        assert not os.path.exists(d["path"]) or v2, d
    for h in os.listdir(CG):
        assert not os.path.exists(os.path.join(CG, h, "machine.slice", "krunc-%s.scope" % cid))


def test_systemd_scope_not_made_when_resources_impossible(cid, tmp):
    (tmp / "res.json").write_text(json.dumps({"network": {"classID": 7}}))
    if v1_dir("net_cls", ""):
        pytest.skip("this machine has net_cls")
    p = with_fake_systemd("$T run --systemd -i %s -r $D/res.json -- true\n" % cid, tmp, False)
    assert p.returncode != 0
    assert "linux.resources.network.classID" in p.stderr
    calls = (tmp / "calls").read_text() if (tmp / "calls").exists() else ""
    assert "StartTransientUnit" not in calls


def test_root_of_a_user_namespace_gets_limits_without_device_rules(cid, tmp):
    """krunc as root of a user namespace (as podman runs runtimes rootless): device rules are not
    its to set and are left out, as runc does; the limits it can write still apply."""
    res = resources_file(tmp, {"pids": {"limit": 9}, "devices": [{"allow": False, "access": "rwm"}]})
    p = subprocess.run(["unshare", "-U", "--map-root-user", CGTOOL, "run", "-i", cid, "-r", res, "--",
                        "sh", "-c", "cat %s; head -c 0 /dev/zero && echo zero-ok" %
                        (v1_dir("pids", "/krunc/%s/pids.max" % cid) or v2_mount() + "/krunc/%s/pids.max" % cid)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["9", "zero-ok"]


@pytest.mark.skipif(not IS_KRUNC, reason="krunc's own systemd path and messages")
def test_krunc_systemd_cgroup_create_and_delete(make_bundle, cid, tmp):
    """krunc itself, not cgtool: create --systemd-cgroup has the scope made over D-Bus, and
    delete stops it without the flag, because the state says systemd made it. The static krunc
    does both through krunc-dynamic; a copy of it alone refuses the delete before it kills or
    removes anything."""
    b = make_bundle()
    b.set_args("sleep", "30")
    b.linux["cgroupsPath"] = "machine.slice:krunc:" + cid
    b.write()
    installed = installed_krunc_dynamic()
    lone = ""
    if installed:
        (tmp / "lone").mkdir()
        shutil.copy2(KRUNC, tmp / "lone" / "krunc")
        lone = """
[ -e %(inst)s ] && mount -t tmpfs tmpfs $(dirname %(inst)s)
$D/lone/krunc $R delete --force %(cid)s 2> $D/lone.err; echo lone=$?
cp $D/calls $D/calls-after-lone
$K $R state %(cid)s > /dev/null && echo still-there
""" % {"inst": installed, "cid": cid}
    p = with_fake_systemd("""
R="--root $D/root"
$K $R --systemd-cgroup create --bundle %(b)s %(cid)s && echo created
P=$($K $R state %(cid)s | sed -n 's/.*"pid": *\\([0-9]*\\).*/\\1/p')
cat /proc/$P/cgroup
echo ---
%(lone)s
$K $R --debug --log $D/log delete --force %(cid)s && echo deleted
""" % {"b": b.path, "cid": cid, "lone": lone}, tmp, False)
    assert p.returncode == 0, p.stdout + p.stderr
    head, tail = p.stdout.split("---\n")
    assert head.startswith("created\n"), p.stdout + p.stderr
    scope = "/machine.slice/krunc-%s.scope" % cid
    assert "0::" + scope in head.splitlines(), head
    calls = (tmp / "calls").read_text().splitlines()
    start = [c for c in calls if c.startswith("StartTransientUnit krunc-%s.scope" % cid)]
    assert start and "Slice=machine.slice" in start[0] and "Delegate=1" in start[0], calls
    assert "StopUnit krunc-%s.scope mode=replace" % cid in calls
    assert "deleted" in tail, p.stdout + p.stderr
    if installed:
        assert "lone=1" in tail and "still-there" in tail, p.stdout + p.stderr
        assert "krunc-dynamic, which is missing" in (tmp / "lone.err").read_text()
        assert not any(c.startswith("StopUnit") for c in (tmp / "calls-after-lone").read_text().splitlines())
        helper = os.path.join(os.path.dirname(os.path.realpath(KRUNC)), "krunc-dynamic")
        assert "running %s" % helper in (tmp / "log").read_text()
