"""Namespaces: each one is really new (or really shared), seen from inside."""

import os

import pytest

from conftest import ns_inode, pid_alive, skip_on_runc, wait_file

# spec namespace type -> /proc/PID/ns entry
NS_FILE = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts",
           "mount": "mnt", "cgroup": "cgroup", "user": "user", "time": "time"}


def test_pid_namespace(rt, bundle):
    bundle.sh("echo $$; ls /proc | grep -c '^[0-9]'")
    pid1, nprocs = rt.run_ok(bundle).split()
    assert pid1 == "1"
    # sh, ls and grep are the only processes in the namespace
    assert int(nprocs) <= 3


def test_uts_namespace(rt, bundle):
    bundle.config["hostname"] = "krunc-test-host"
    bundle.sh("hostname; cat /proc/sys/kernel/hostname")
    assert rt.run_ok(bundle).split() == ["krunc-test-host"] * 2
    # the host's name is untouched
    assert os.uname().nodename != "krunc-test-host"


def test_network_namespace_only_lo(rt, bundle):
    bundle.sh("cat /proc/net/dev")
    lines = rt.run_ok(bundle).splitlines()[2:]   # two header lines
    ifaces = sorted(l.split(":")[0].strip() for l in lines if l.strip())
    assert ifaces == ["lo"]


@pytest.mark.parametrize("ns", ["pid", "network", "ipc", "uts", "mount"])
def test_namespace_is_new(rt, bundle, ns):
    f = NS_FILE[ns]
    bundle.sh("readlink /proc/self/ns/%s" % f)
    inside = rt.run_ok(bundle).strip()
    assert inside.startswith(f + ":[")
    assert inside != ns_inode("self", f)


@pytest.mark.parametrize("ns", ["network", "ipc", "uts"])
def test_namespace_shared_when_absent(rt, bundle, ns):
    f = NS_FILE[ns]
    bundle.remove_namespace(ns)
    if ns == "uts":
        del bundle.config["hostname"]
    bundle.sh("readlink /proc/self/ns/%s" % f)
    assert rt.run_ok(bundle).strip() == ns_inode("self", f)


def test_ipc_namespace_isolates_sysv(rt, bundle):
    # a fresh IPC namespace has no SysV objects and default limits
    bundle.sh("cat /proc/sysvipc/shm | wc -l; cat /proc/sys/kernel/shmmni")
    lines, _ = rt.run_ok(bundle).split()
    assert lines == "1"    # only the header


def add_caps(bundle, *caps):
    for kind in ("bounding", "effective", "permitted"):
        bundle.process["capabilities"][kind].extend(caps)


def test_mount_namespace(rt, bundle):
    add_caps(bundle, "CAP_SYS_ADMIN")
    bundle.sh("mount -t tmpfs none /mnt && grep -c ' /mnt ' /proc/self/mountinfo")
    assert rt.run_ok(bundle).strip() == "1"
    # nothing of the container's mounts is visible on the host
    with open("/proc/self/mountinfo") as f:
        assert str(bundle.rootfs) not in f.read()


def test_cgroup_namespace(rt, bundle):
    bundle.add_namespace("cgroup")
    bundle.sh("cat /proc/self/cgroup")
    lines = [l for l in rt.run_ok(bundle).splitlines() if l.strip()]
    assert lines
    for line in lines:
        assert line.split(":", 2)[2] == "/", lines


def test_no_cgroup_namespace_shows_host_path(rt, bundle):
    bundle.sh("cat /proc/self/cgroup")
    lines = [l for l in rt.run_ok(bundle).splitlines() if l.strip()]
    assert any(line.split(":", 2)[2] != "/" for line in lines), lines


def test_user_namespace(rt, bundle):
    bundle.add_namespace("user")
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 1000}]
    bundle.sh("cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; id -u; id -g")
    uid_map, gid_map, ids = rt.run_ok(bundle).split("--\n")
    assert uid_map.split() == ["0", "100000", "65536"]
    assert gid_map.split() == ["0", "200000", "1000"]
    assert ids.split() == ["0", "0"]


def test_user_namespace_seen_from_host(rt, bundle, cid):
    bundle.add_namespace("user")
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.set_args("sleep", "1000")
    st = rt.start_detached(cid, bundle)
    pid = st["pid"]
    with open("/proc/%d/status" % pid) as f:
        status = dict(l.split(":", 1) for l in f.read().splitlines())
    # container root is host uid 100000
    assert status["Uid"].split()[0] == "100000"
    assert status["Gid"].split()[0] == "100000"
    assert ns_inode(pid, "user") != ns_inode("self", "user")
    rt.delete(cid, force=True)


def test_user_namespace_multiple_mappings(rt, bundle):
    bundle.add_namespace("user")
    bundle.linux["uidMappings"] = [
        {"containerID": 0, "hostID": 100000, "size": 1000},
        {"containerID": 1000, "hostID": 300000, "size": 10},
    ]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.sh("cat /proc/self/uid_map")
    rows = [l.split() for l in rt.run_ok(bundle).splitlines() if l.strip()]
    assert sorted(rows) == sorted([["0", "100000", "1000"], ["1000", "300000", "10"]])


def _host_uptime():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


@skip_on_runc("runc 1.1.5 does not support time namespaces")
def test_time_namespace(rt, bundle):
    offset = 10 * 86400
    bundle.add_namespace("time")
    bundle.linux["timeOffsets"] = {
        "boottime": {"secs": offset, "nanosecs": 0},
        "monotonic": {"secs": offset, "nanosecs": 0},
    }
    bundle.sh("cat /proc/uptime; readlink /proc/self/ns/time")
    before = _host_uptime()
    out = rt.run_ok(bundle).split()
    after = _host_uptime()
    inside = float(out[0])
    assert before + offset <= inside <= after + offset + 1
    assert out[2] != ns_inode("self", "time")


@skip_on_runc("runc 1.1.5 does not support time namespaces")
def test_time_namespace_without_offsets(rt, bundle):
    bundle.add_namespace("time")
    bundle.sh("readlink /proc/self/ns/time; cat /proc/uptime")
    before = _host_uptime()
    ns, up = rt.run_ok(bundle).split()[:2]
    assert ns != ns_inode("self", "time")
    assert abs(float(up) - before) < 3600


@pytest.mark.parametrize("ns", ["network", "ipc", "uts"])
def test_join_namespace_by_path(rt, make_bundle, ns):
    f = NS_FILE[ns]
    first = make_bundle()
    first.set_args("sleep", "1000")
    a = rt.new_id("a")
    st = rt.start_detached(a, first)
    target = ns_inode(st["pid"], f)
    assert target != ns_inode("self", f)

    second = make_bundle()
    second.add_namespace(ns, "/proc/%d/ns/%s" % (st["pid"], f))
    if ns == "uts":
        del second.config["hostname"]
    shared = second.shared
    second.sh("readlink /proc/self/ns/%s > /shared/ns; exec sleep 1000" % f)
    b = rt.new_id("b")
    st2 = rt.start_detached(b, second)
    assert wait_file(shared / "ns").strip() == target
    assert ns_inode(st2["pid"], f) == target
    rt.delete(b, force=True)
    rt.delete(a, force=True)


@skip_on_runc("runc 1.1.5 joins the user namespace first, and then may not join one the host owns")
def test_join_user_namespace_and_a_host_owned_network(rt, make_bundle):
    """The joined network namespace belongs to the host's user namespace and
    the joined user namespace to another container: the network one must be
    joined first, while krunc still has its privileges on the host."""
    owner = make_bundle()
    owner.add_namespace("user")
    owner.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    owner.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    owner.set_args("sleep", "1000")
    a = rt.new_id("a")
    st_a = rt.start_detached(a, owner)
    net = make_bundle()
    net.set_args("sleep", "1000")
    b = rt.new_id("b")
    st_b = rt.start_detached(b, net)

    joiner = make_bundle()
    joiner.add_namespace("user", "/proc/%d/ns/user" % st_a["pid"])
    joiner.add_namespace("network", "/proc/%d/ns/net" % st_b["pid"])
    # sysfs can only be mounted by the owner of the network namespace, which is the host here
    joiner.config["mounts"] = [m for m in joiner.config["mounts"] if not m["destination"].startswith("/sys")]
    joiner.sh("readlink /proc/self/ns/user; readlink /proc/self/ns/net")
    user, netns = rt.run_ok(joiner).split()
    assert user == ns_inode(st_a["pid"], "user")
    assert netns == ns_inode(st_b["pid"], "net")
    rt.delete(a, force=True)
    rt.delete(b, force=True)


def test_join_network_sees_same_interfaces(rt, make_bundle):
    # bring lo up in the first container's net ns; the joiner must see it up
    first = make_bundle()
    first.sh("ip link set lo up && echo up > /shared/up; exec sleep 1000")
    shared = first.shared
    add_caps(first, "CAP_NET_ADMIN")
    a = rt.new_id("a")
    st = rt.start_detached(a, first)
    wait_file(shared / "up")

    second = make_bundle()
    second.add_namespace("network", "/proc/%d/ns/net" % st["pid"])
    second.sh("cat /sys/class/net/lo/operstate /sys/class/net/lo/flags")
    out = rt.run_ok(second).split()
    # IFF_UP is bit 0 of the flags
    assert int(out[1], 16) & 1
    rt.delete(a, force=True)


def test_join_bad_namespace_path(rt, bundle, cid):
    bundle.add_namespace("network", "/proc/self/no-such-ns")
    bundle.set_args("true")
    rt.create(cid, bundle, check=False)
    rt.assert_clean()


def test_join_namespace_of_wrong_type(rt, make_bundle, cid):
    first = make_bundle()
    first.set_args("sleep", "1000")
    a = rt.new_id("a")
    st = rt.start_detached(a, first)
    second = make_bundle()
    # an ipc namespace file given as the network namespace
    second.add_namespace("network", "/proc/%d/ns/ipc" % st["pid"])
    second.set_args("true")
    rt.create(cid, second, check=False)
    assert rt.leftovers() == [a]
    assert pid_alive(st["pid"])
    rt.delete(a, force=True)
