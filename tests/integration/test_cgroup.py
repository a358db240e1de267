"""Cgroup placement: default and explicit cgroupsPath, removal on delete."""

import os

import pytest

from conftest import IS_KRUNC, pid_alive


def cgroup_mounts():
    """[(fstype, super options set, mount root, mountpoint)] of the host."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            fields = pre.split()
            fstype, _, sup = (post.split() + [""])[:3]
            if fstype in ("cgroup", "cgroup2"):
                out.append((fstype, set(sup.split(",")), fields[3], fields[4]))
    return out


def cgroup_lines(pid):
    """[(hierarchy id, [controllers], path)] from /proc/PID/cgroup."""
    rows = []
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            hid, ctrls, path = line.rstrip("\n").split(":", 2)
            rows.append((hid, [c for c in ctrls.split(",") if c], path))
    return rows


def cgroup_dirs(pid):
    """The host directories of every cgroup ``pid`` is in (one per hierarchy)."""
    mounts = cgroup_mounts()
    dirs = []
    for hid, ctrls, path in cgroup_lines(pid):
        for fstype, sup, root, mnt in mounts:
            if hid == "0":
                ok = fstype == "cgroup2"
            else:
                ok = fstype == "cgroup" and set(ctrls) <= sup
            if ok and (path == root or path.startswith(root.rstrip("/") + "/")):
                rel = path[len(root.rstrip("/")):]
                dirs.append(mnt + rel)
                break
    return dirs


def default_path(cid):
    return "/krunc/%s" % cid if IS_KRUNC else "/%s" % cid


def assert_in_cgroup(pid, path):
    rows = cgroup_lines(pid)
    assert rows
    for hid, ctrls, p in rows:
        # v1 hierarchies may nest the path below the caller's own cgroup
        assert p == path or p.endswith(path), (hid, ctrls, p, path)


def remove_empty_parents(dirs, levels):
    for d in dirs:
        for _ in range(levels):
            d = os.path.dirname(d)
            try:
                os.rmdir(d)
            except OSError:
                break


@pytest.fixture
def explicit_path(cid):
    path = "/krunc-itest/%s" % cid
    yield path
    # the parent made up for the test must not stay behind on the host
    for fstype, sup, root, mnt in cgroup_mounts():
        try:
            os.rmdir(mnt + "/krunc-itest")
        except OSError:
            pass


def test_default_cgroup_path(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    rt.create(cid, bundle)
    pid = rt.state(cid)["pid"]
    # placed at create time, before start
    assert_in_cgroup(pid, default_path(cid))
    rt.start(cid)
    assert_in_cgroup(pid, default_path(cid))
    dirs = cgroup_dirs(pid)
    assert dirs and all(os.path.isdir(d) for d in dirs), dirs
    rt.delete(cid, force=True)
    assert not pid_alive(pid)
    left = [d for d in dirs if os.path.exists(d)]
    assert left == [], "cgroups left after delete: %r" % left
    if IS_KRUNC:
        remove_empty_parents(dirs, 1)


def test_cgroup_procs_lists_container(rt, bundle, cid):
    bundle.set_args("sleep", "1000")
    st = rt.start_detached(cid, bundle)
    for d in cgroup_dirs(st["pid"]):
        with open(os.path.join(d, "cgroup.procs")) as f:
            assert str(st["pid"]) in f.read().split(), d
    rt.delete(cid, force=True)


def test_explicit_cgroups_path(rt, bundle, cid, explicit_path):
    bundle.linux["cgroupsPath"] = explicit_path
    bundle.set_args("sleep", "1000")
    st = rt.start_detached(cid, bundle)
    assert_in_cgroup(st["pid"], explicit_path)
    dirs = cgroup_dirs(st["pid"])
    assert all(os.path.isdir(d) for d in dirs)
    rt.delete(cid, force=True)
    assert [d for d in dirs if os.path.exists(d)] == []


def test_explicit_cgroups_path_on_pids_hierarchy(rt, bundle, cid, explicit_path):
    # the pids hierarchy is not nested on this host: the path is exact
    if not os.path.isdir("/sys/fs/cgroup/pids"):
        pytest.skip("no v1 pids hierarchy on this host")
    bundle.linux["cgroupsPath"] = explicit_path
    bundle.set_args("sleep", "1000")
    st = rt.start_detached(cid, bundle)
    procs = "/sys/fs/cgroup/pids%s/cgroup.procs" % explicit_path
    with open(procs) as f:
        assert str(st["pid"]) in f.read().split()
    rt.delete(cid, force=True)
    assert not os.path.exists(os.path.dirname(procs))


def test_cgroup_removed_after_run(rt, bundle, cid, explicit_path):
    bundle.linux["cgroupsPath"] = explicit_path
    bundle.sh("cat /proc/self/cgroup")
    out = rt.run_ok(bundle, cid=cid)
    assert explicit_path in out
    for fstype, sup, root, mnt in cgroup_mounts():
        assert not os.path.exists(mnt + explicit_path), mnt + explicit_path
    rt.assert_clean()


def test_cgroup_removed_after_stop_and_delete(rt, bundle, cid, explicit_path):
    bundle.linux["cgroupsPath"] = explicit_path
    bundle.set_args("true")
    rt.start_detached(cid, bundle)
    rt.wait_stopped(cid)
    rt.delete(cid)
    for fstype, sup, root, mnt in cgroup_mounts():
        assert not os.path.exists(mnt + explicit_path), mnt + explicit_path


def test_failed_create_removes_cgroup(rt, bundle, cid, explicit_path):
    bundle.linux["cgroupsPath"] = explicit_path
    bundle.add_mount("/mnt", "nosuchfs", "none")
    bundle.set_args("true")
    rt.create(cid, bundle, check=False)
    rt.assert_clean()
    for fstype, sup, root, mnt in cgroup_mounts():
        assert not os.path.exists(mnt + explicit_path), mnt + explicit_path


def test_two_containers_two_cgroups(rt, make_bundle):
    a, b = rt.new_id("a"), rt.new_id("b")
    ba, bb = make_bundle(), make_bundle()
    ba.set_args("sleep", "1000")
    bb.set_args("sleep", "1000")
    pa = rt.start_detached(a, ba)["pid"]
    pb = rt.start_detached(b, bb)["pid"]
    assert_in_cgroup(pa, default_path(a))
    assert_in_cgroup(pb, default_path(b))
    da, db = cgroup_dirs(pa), cgroup_dirs(pb)
    assert not set(da) & set(db)
    rt.delete(a, force=True)
    # deleting one leaves the other alone
    assert pid_alive(pb)
    assert all(os.path.isdir(d) for d in db)
    rt.delete(b, force=True)
    assert [d for d in da + db if os.path.exists(d)] == []
