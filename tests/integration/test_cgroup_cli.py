"""linux.resources through the runtime, and update, pause, resume, events: values read back from
the kernel's cgroup files of the container's process, and the effects seen from inside."""

import json
import os
import subprocess
import time

import pytest

from conftest import IS_KRUNC, Runtime, describe, lone_static_krunc, pid_alive, wait_for
from test_cgroup import cgroup_dirs


def cg_file(pid, name):
    """The cgroup file `name` (e.g. pids.max) of the container's pid, in whichever hierarchy has it."""
    for d in cgroup_dirs(pid):
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    raise AssertionError("no %s for pid %d in %s" % (name, pid, cgroup_dirs(pid)))


def read(path):
    with open(path) as f:
        return f.read().strip()


def v2_only():
    with open("/proc/self/mountinfo") as f:
        return not any(" - cgroup " in l for l in f)


def memory_limit_file(pid):
    return cg_file(pid, "memory.max" if v2_only() else "memory.limit_in_bytes")


def test_resources_applied_at_create(rt, bundle, cid):
    bundle.linux["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 25},
                                 "cpu": {"shares": 512, "quota": 20000, "period": 100000}}
    bundle.set_args("sleep", "1000")
    pid = rt.start_detached(cid, bundle)["pid"]
    assert read(memory_limit_file(pid)) == str(64 << 20)
    assert read(cg_file(pid, "pids.max")) == "25"
    if v2_only():
        assert read(cg_file(pid, "cpu.max")) == "20000 100000"
    else:
        assert read(cg_file(pid, "cpu.shares")) == "512"
        assert read(cg_file(pid, "cpu.cfs_quota_us")) == "20000"
    rt.delete(cid, force=True)


def test_pids_limit_inside_container(rt, bundle):
    bundle.linux["resources"] = {"pids": {"limit": 4}}
    # sh + 3 sleeps are 4; the fourth sleep is one too many
    bundle.sh("sleep 1 & sleep 1 & sleep 1 & sleep 1 & wait; echo done")
    res = rt.run_container(rt.new_id(), bundle)
    assert "fork" in res.stderr.lower() or "resource temporarily unavailable" in res.stderr.lower(), describe(res)


def test_memory_limit_oom_inside_container(rt, bundle):
    bundle.linux["resources"] = {"memory": {"limit": 32 << 20, "swap": 32 << 20}}
    # tail holds the whole newline-free input; it makes itself the OOM killer's first choice.
    # Under load the kernel may kill a second task while tail's memory is still being freed:
    # head is made the next choice, so the shell that reports survives.
    bundle.sh("(echo 900 > /proc/self/oom_score_adj; exec head -c 200000000 /dev/zero) | "
              "(echo 1000 > /proc/self/oom_score_adj; exec tail -n 1) >/dev/null; echo status=$?")
    out = rt.run_ok(bundle)
    assert "status=137" in out


@pytest.mark.parametrize("allow,want", [
    (None, ["R-denied", "W-denied", "zero-ok"]),
    ("r", ["R-ok", "W-denied", "zero-ok"]),
    ("rw", ["R-ok", "W-ok", "zero-ok"]),
])
def test_device_rules_inside_container(rt, bundle, allow, want):
    # /dev/fuse (10:229): opening it needs no capability
    rules = [{"allow": False, "access": "rwm"}]
    if allow:
        rules.append({"allow": True, "type": "c", "major": 10, "minor": 229, "access": allow})
    bundle.linux["resources"] = {"devices": rules}
    bundle.linux.setdefault("devices", []).append({"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                                                   "fileMode": 0o666})
    bundle.sh("(exec 3</dev/fuse) 2>/dev/null && echo R-ok || echo R-denied; "
              "(exec 3>/dev/fuse) 2>/dev/null && echo W-ok || echo W-denied; "
              "head -c 1 /dev/zero >/dev/null && echo zero-ok")
    out = rt.run_ok(bundle)
    assert out.split() == want


# ---- update ----

def test_update_flags(rt, bundle, cid):
    bundle.linux["resources"] = {"pids": {"limit": 10}}
    bundle.set_args("sleep", "1000")
    pid = rt.start_detached(cid, bundle)["pid"]
    rt.run(["update", "--pids-limit", "30", "--memory", "96m", cid], check=True)
    assert read(cg_file(pid, "pids.max")) == "30"
    assert read(memory_limit_file(pid)) == str(96 << 20)
    rt.run(["update", "--cpu-period", "50000", "--cpu-quota", "25000", cid], check=True)
    if v2_only():
        assert read(cg_file(pid, "cpu.max")) == "25000 50000"
    else:
        assert read(cg_file(pid, "cpu.cfs_period_us")) == "50000"
        assert read(cg_file(pid, "cpu.cfs_quota_us")) == "25000"
    rt.delete(cid, force=True)


def test_update_resources_file_and_stdin(rt, bundle, cid, tmp_path):
    bundle.set_args("sleep", "1000")
    pid = rt.start_detached(cid, bundle)["pid"]
    f = tmp_path / "res.json"
    f.write_text(json.dumps({"pids": {"limit": 12}}))
    # the file wins over the flags
    rt.run(["update", "-r", str(f), "--pids-limit", "99", cid], check=True)
    assert read(cg_file(pid, "pids.max")) == "12"
    with open(f, "w") as w:
        json.dump({"pids": {"limit": 13}}, w)
    with open(f) as stdin:
        rt.run(["update", "-r", "-", cid], check=True, stdin=stdin)
    assert read(cg_file(pid, "pids.max")) == "13"
    rt.delete(cid, force=True)


def test_update_bad_input(rt, bundle, cid, tmp_path):
    bundle.set_args("sleep", "1000")
    rt.start_detached(cid, bundle)
    rt.run(["update", "--memory", "lots", cid], check=False)
    f = tmp_path / "res.json"
    f.write_text("{not json")
    rt.run(["update", "-r", str(f), cid], check=False)
    rt.run(["update", "--pids-limit", "5", "nosuch-" + cid], check=False)
    rt.delete(cid, force=True)


@pytest.mark.krunc_only
def test_update_bad_resource_named(rt, bundle, cid, tmp_path):
    bundle.set_args("sleep", "1000")
    rt.start_detached(cid, bundle)
    f = tmp_path / "res.json"
    f.write_text(json.dumps({"memory": {"limit": "big"}}))
    res = rt.run(["update", "-r", str(f), cid], check=False)
    assert "linux.resources.memory.limit: expected an integer" in res.stderr
    rt.delete(cid, force=True)


def test_update_stopped_container_fails(rt, bundle, cid):
    bundle.set_args("true")
    rt.start_detached(cid, bundle)
    rt.wait_stopped(cid)
    rt.run(["update", "--pids-limit", "5", cid], check=False)
    rt.delete(cid)


# ---- pause / resume ----

def test_pause_resume(rt, bundle, cid, tmp_path):
    out = tmp_path / "share"
    out.mkdir()
    bundle.add_bind(str(out), "/share")
    bundle.sh("while :; do echo x; done > /share/count")
    rt.start_detached(cid, bundle)
    count = out / "count"
    wait_for(lambda: count.exists() and count.stat().st_size > 0, what="the loop")
    rt.run(["pause", cid], check=True)
    assert rt.status(cid) == "paused"
    listed = json.loads(rt.run(["list", "--format", "json"], check=True).stdout)
    assert [c["status"] for c in listed if c["id"] == cid] == ["paused"]
    size = count.stat().st_size
    time.sleep(0.3)
    assert count.stat().st_size == size, "a paused container ran"
    rt.run(["pause", cid], check=False)          # already paused
    rt.run(["resume", cid], check=True)
    assert rt.status(cid) == "running"
    wait_for(lambda: count.stat().st_size > size, what="the resumed loop")
    rt.run(["resume", cid], check=False)         # not paused
    rt.delete(cid, force=True)


def test_pause_created_and_missing(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    rt.create(cid, bundle)
    # as runc: a created container can be paused and resumed
    rt.run(["pause", cid], check=True)
    rt.run(["resume", cid], check=True)
    rt.run(["resume", cid], check=False)
    rt.run(["pause", "nosuch-" + cid], check=False)
    rt.delete(cid, force=True)


def test_kill_paused_container(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    pid = rt.start_detached(cid, bundle)["pid"]
    rt.run(["pause", cid], check=True)
    rt.kill(cid, "KILL")
    wait_for(lambda: not pid_alive(pid), what="the paused init to die")
    rt.wait_stopped(cid)
    rt.delete(cid)


def test_delete_force_paused_container(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    pid = rt.start_detached(cid, bundle)["pid"]
    dirs = cgroup_dirs(pid)
    rt.run(["pause", cid], check=True)
    rt.delete(cid, check=False)                  # paused is not stopped
    rt.delete(cid, force=True)
    assert not pid_alive(pid)
    assert [d for d in dirs if os.path.exists(d)] == []


# ---- events ----

def test_events_stats_once(rt, bundle, cid):
    bundle.linux["resources"] = {"pids": {"limit": 50}, "memory": {"limit": 64 << 20}}
    bundle.set_args("sleep", "1000")
    rt.start_detached(cid, bundle)
    res = rt.run(["events", "--stats", cid], check=True)
    ev = json.loads(res.stdout)
    assert ev["type"] == "stats" and ev["id"] == cid
    d = ev["data"]
    for key in ("cpu", "memory", "pids", "blkio", "hugetlb"):
        assert key in d, key
    assert d["pids"] == {"current": 1, "limit": 50}
    assert d["memory"]["usage"]["limit"] == 64 << 20
    assert d["cpu"]["usage"]["total"] > 0
    rt.delete(cid, force=True)


def test_events_stream_until_deleted(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    rt.start_detached(cid, bundle)
    p = rt.popen(["events", "--interval", "200ms", cid])
    wait_for(lambda: len(open(p.out_path).read().splitlines()) >= 2, what="two stats events")
    rt.delete(cid, force=True)
    p.wait(timeout=10)
    lines = open(p.out_path).read().splitlines()
    assert all(json.loads(l)["type"] == "stats" for l in lines)


def test_events_reports_oom(rt, bundle, cid, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    os.mkfifo(share / "go")
    bundle.add_bind(str(share), "/share")
    bundle.linux["resources"] = {"memory": {"limit": 32 << 20, "swap": 32 << 20}}
    bundle.sh("read x < /share/go; head -c 200000000 /dev/zero | (echo 1000 > /proc/self/oom_score_adj; "
              "exec tail -n 1) >/dev/null; sleep 1000")
    rt.start_detached(cid, bundle)
    p = rt.popen(["events", "--interval", "100ms", cid])
    try:
        # the first stats event: events is watching for OOM by then
        wait_for(lambda: open(p.out_path).read().strip(), what="the first event")
        with open(share / "go", "w") as f:
            f.write("go\n")
        wait_for(lambda: any(json.loads(l)["type"] == "oom" for l in open(p.out_path).read().splitlines()),
                 what="an oom event")
    finally:
        rt.delete(cid, force=True)
        p.wait(timeout=10)
    ev = [json.loads(l) for l in open(p.out_path).read().splitlines()]
    assert {"type": "oom", "id": cid} in ev


def test_events_bad_interval(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    rt.start_detached(cid, bundle)
    rt.run(["events", "--interval", "soon", cid], check=False)
    rt.delete(cid, force=True)


@pytest.mark.krunc_only
def test_systemd_cgroup_flag_without_systemd(rt, bundle, cid):
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd is running on this machine")
    bundle.linux["cgroupsPath"] = "system.slice:krunc:" + cid
    bundle.set_args("true")
    bundle.write()
    res = rt.run(["create", "--bundle", str(bundle.path), cid], global_args=["--systemd-cgroup"], check=False)
    assert "systemd is not running (not PID 1)" in res.stderr
    rt.assert_clean()


@pytest.mark.krunc_only
def test_systemd_cgroup_flag_needs_krunc_dynamic(rt, bundle, cid, tmp_path):
    """The static krunc opens sd-bus through krunc-dynamic; without it, create says
    so before it makes anything."""
    lone, prefix = lone_static_krunc(tmp_path)
    bundle.linux["cgroupsPath"] = "system.slice:krunc:" + cid
    bundle.set_args("true")
    bundle.write()
    res = Runtime(lone, rt.root, tmp_path / "lone-logs").run(
        ["create", "--bundle", str(bundle.path), cid], global_args=["--systemd-cgroup"], prefix=prefix)
    assert res.returncode == 1, describe(res)
    assert "krunc-dynamic, which is missing" in res.stderr, res.stderr
    assert os.path.join(tmp_path, "krunc-dynamic") in res.stderr, res.stderr
    rt.assert_clean()
