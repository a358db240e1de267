"""Root filesystem: mounts and their options, devices, masking, sysctls."""

import os
import subprocess

import pytest

from conftest import find_mount, mountinfo, mounts_under, skip_on_runc


@pytest.fixture
def host_mount():
    """Make a mount on the host for one test; undone (lazily) at teardown."""
    made = []

    def mount(*args):
        subprocess.run(["mount", *map(str, args)], check=True)
        made.append(str(args[-1]))

    yield mount
    for target in reversed(made):
        subprocess.run(["umount", "-l", target], check=False)
    for target in made:
        assert not mounts_under(target), "host mount %s left behind" % target


def container_mounts(rt, bundle, script="cat /proc/self/mountinfo"):
    bundle.sh(script)
    return mountinfo(rt.run_ok(bundle))


# -- mounts and options ------------------------------------------------------

# option in config.json -> what must (or must not) appear in mountinfo
@pytest.mark.parametrize("option,present,absent", [
    ("ro", ["ro"], ["rw"]),
    ("rw", ["rw"], ["ro"]),
    ("nosuid", ["nosuid"], []),
    ("nodev", ["nodev"], []),
    ("noexec", ["noexec"], []),
    ("noatime", ["noatime"], ["relatime"]),
    ("relatime", ["relatime"], ["noatime"]),
    ("strictatime", [], ["relatime", "noatime"]),
    ("nodiratime", ["nodiratime"], []),
])
def test_tmpfs_mount_option(rt, bundle, option, present, absent):
    bundle.add_mount("/mnt/opt", "tmpfs", "tmpfs", [option])
    m = find_mount(container_mounts(rt, bundle), "/mnt/opt")
    assert m is not None, "no mount at /mnt/opt"
    assert m["fstype"] == "tmpfs"
    for o in present:
        assert o in m["options"], m
    for o in absent:
        assert o not in m["options"], m


def test_mount_options_combined(rt, bundle):
    bundle.add_mount("/mnt/all", "tmpfs", "tmpfs",
                     ["ro", "nosuid", "nodev", "noexec", "mode=700", "size=1m"])
    bundle.sh("grep ' /mnt/all ' /proc/self/mountinfo; stat -c %a /mnt/all; "
              "touch /mnt/all/x 2>/dev/null && echo writable || echo readonly")
    out = rt.run_ok(bundle).splitlines()
    m = mountinfo(out[0])[0]
    assert {"ro", "nosuid", "nodev", "noexec"} <= set(m["options"])
    assert "size=1024k" in m["super"]
    assert out[1] == "700"
    assert out[2] == "readonly"


def test_noexec_enforced(rt, bundle):
    bundle.add_mount("/mnt/x", "tmpfs", "tmpfs", ["noexec", "mode=755"])
    bundle.sh("cp /bin/busybox /mnt/x/bb && /mnt/x/bb true 2>/dev/null "
              "&& echo ran || echo refused")
    assert rt.run_ok(bundle).strip() == "refused"


def test_tmpfs_writable_and_mode(rt, bundle):
    bundle.add_mount("/scratch", "tmpfs", "tmpfs", ["mode=1777", "size=2m"])
    bundle.sh("echo hi > /scratch/f && cat /scratch/f && stat -c %a /scratch")
    assert rt.run_ok(bundle).split() == ["hi", "1777"]


def test_mount_creates_missing_destination(rt, bundle):
    bundle.add_mount("/does/not/exist/yet", "tmpfs", "tmpfs")
    m = find_mount(container_mounts(rt, bundle), "/does/not/exist/yet")
    assert m is not None and m["fstype"] == "tmpfs"


@pytest.mark.parametrize("dest,fstype", [
    ("/proc", "proc"), ("/dev", "tmpfs"), ("/dev/pts", "devpts"),
    ("/dev/shm", "tmpfs"), ("/dev/mqueue", "mqueue"), ("/sys", "sysfs"),
])
def test_default_mount_types(rt, bundle, dest, fstype):
    m = find_mount(container_mounts(rt, bundle), dest)
    assert m is not None, "nothing mounted at " + dest
    assert m["fstype"] == fstype


def test_sys_is_readonly(rt, bundle):
    m = find_mount(container_mounts(rt, bundle), "/sys")
    assert "ro" in m["options"]
    assert {"nosuid", "nodev", "noexec"} <= set(m["options"])


def test_cgroup_mount(rt, bundle):
    mounts = container_mounts(rt, bundle)
    below = [m for m in mounts
             if m["mountpoint"] == "/sys/fs/cgroup"
             or m["mountpoint"].startswith("/sys/fs/cgroup/")]
    assert any(m["fstype"] in ("cgroup", "cgroup2") for m in below), below
    # the spec asks for ro: no cgroup hierarchy is writable
    for m in below:
        if m["fstype"] in ("cgroup", "cgroup2"):
            assert "ro" in m["options"], m


def test_bind_mount(rt, bundle, tmp_path):
    src = tmp_path / "data"
    src.mkdir()
    (src / "file").write_text("from the host\n")
    bundle.add_bind(src, "/data", ["bind"])
    bundle.sh("cat /data/file; echo back > /data/new")
    assert rt.run_ok(bundle) == "from the host\n"
    assert (src / "new").read_text() == "back\n"


def test_bind_mount_file(rt, bundle, tmp_path):
    src = tmp_path / "single"
    src.write_text("one file\n")
    bundle.add_bind(src, "/etc/single", ["bind", "ro"])
    bundle.sh("cat /etc/single")
    assert rt.run_ok(bundle) == "one file\n"


def test_bind_mount_readonly(rt, bundle, tmp_path):
    src = tmp_path / "data"
    src.mkdir()
    bundle.add_bind(src, "/data", ["bind", "ro"])
    bundle.sh("grep ' /data ' /proc/self/mountinfo; "
              "touch /data/x 2>/dev/null && echo writable || echo readonly")
    out = rt.run_ok(bundle).splitlines()
    assert "ro" in mountinfo(out[0])[0]["options"]
    assert out[1] == "readonly"
    assert not (src / "x").exists()


@pytest.mark.parametrize("option,sub_visible", [("bind", False), ("rbind", True)])
def test_bind_vs_rbind(rt, bundle, tmp_path, host_mount, option, sub_visible):
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    host_mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", src / "sub")
    (src / "sub" / "marker").write_text("submount\n")
    bundle.add_bind(src, "/tree", [option])
    bundle.sh("cat /tree/sub/marker 2>/dev/null || echo absent")
    out = rt.run_ok(bundle).strip()
    assert out == ("submount" if sub_visible else "absent")


def test_rro(rt, bundle, tmp_path, host_mount):
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    host_mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", src / "sub")
    bundle.add_bind(src, "/tree", ["rbind", "rro"])
    bundle.sh("touch /tree/sub/x 2>/dev/null && echo writable || echo readonly; "
              "touch /tree/y 2>/dev/null && echo writable || echo readonly")
    assert rt.run_ok(bundle).split() == ["readonly", "readonly"]
    assert not (src / "sub" / "x").exists()


@pytest.mark.parametrize("option,tag", [("rshared", "shared:"), ("rprivate", None)])
def test_bind_propagation(rt, bundle, tmp_path, option, tag):
    src = tmp_path / "data"
    src.mkdir()
    bundle.add_bind(src, "/data", ["rbind", option])
    m = find_mount(container_mounts(rt, bundle), "/data")
    tags = " ".join(m["optional"])
    if tag:
        assert tag in tags, m
    else:
        assert "shared:" not in tags and "master:" not in tags, m


def test_bind_missing_source_fails(rt, bundle, tmp_path, cid):
    bundle.add_bind(tmp_path / "nope", "/data", ["bind"])
    bundle.set_args("true")
    rt.create(cid, bundle, check=False)
    rt.assert_clean()


# -- root ----------------------------------------------------------------------


def test_root_readonly(rt, bundle):
    bundle.config["root"]["readonly"] = True
    bundle.sh("awk '$5 == \"/\"' /proc/self/mountinfo | tail -n 1; "
              "touch /newfile 2>/dev/null && echo writable || echo readonly")
    out = rt.run_ok(bundle).splitlines()
    assert "ro" in mountinfo(out[0])[0]["options"]
    assert out[1] == "readonly"
    assert not (bundle.rootfs / "newfile").exists()


def test_root_writable(rt, bundle):
    bundle.config["root"]["readonly"] = False
    bundle.sh("echo x > /newfile && echo written")
    assert rt.run_ok(bundle).strip() == "written"
    assert (bundle.rootfs / "newfile").read_text() == "x\n"


def test_pivot_root_hides_host(rt, bundle):
    marker = bundle.path / "outside-rootfs"
    marker.write_text("host")
    bundle.sh("ls /; ls / | wc -l; cat /outside-rootfs 2>/dev/null || echo hidden; "
              "cat /proc/self/mountinfo")
    out = rt.run_ok(bundle)
    assert "hidden" in out
    # the host's mounts are not reachable from inside
    mounts = mountinfo("\n".join(l for l in out.splitlines() if " - " in l))
    assert not any(m["mountpoint"].startswith(str(bundle.path)) for m in mounts)


def test_no_pivot(rt, bundle, cid):
    bundle.sh("echo $$; ls /bin/busybox; cat /outside 2>/dev/null || echo hidden")
    (bundle.path / "outside").write_text("host")
    res = rt.run_container(cid, bundle, "--no-pivot")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1", "/bin/busybox", "hidden"]
    rt.assert_clean()


def _root_mount(rt, bundle):
    mounts = container_mounts(rt, bundle)
    return find_mount(mounts, "/")


@pytest.mark.parametrize("prop", ["private", "rprivate", "slave", "rslave"])
def test_rootfs_propagation_not_shared(rt, bundle, prop):
    bundle.linux["rootfsPropagation"] = prop
    m = _root_mount(rt, bundle)
    assert not any(t.startswith("shared:") for t in m["optional"]), m


ROOTFS_PROP_RUNC = ("runc 1.1.5 does not apply rootfsPropagation to the "
                    "container's / after pivot_root")


@skip_on_runc(ROOTFS_PROP_RUNC)
@pytest.mark.parametrize("prop", ["shared", "rshared"])
def test_rootfs_propagation_shared(rt, bundle, prop):
    bundle.linux["rootfsPropagation"] = prop
    m = _root_mount(rt, bundle)
    assert any(t.startswith("shared:") for t in m["optional"]), m


@skip_on_runc(ROOTFS_PROP_RUNC)
def test_rootfs_propagation_unbindable(rt, bundle):
    bundle.linux["rootfsPropagation"] = "unbindable"
    m = _root_mount(rt, bundle)
    assert "unbindable" in m["optional"], m


def test_rootfs_propagation_bad_value(rt, bundle, cid):
    bundle.linux["rootfsPropagation"] = "sideways"
    bundle.set_args("true")
    rt.create(cid, bundle, check=False)
    rt.assert_clean()


@pytest.mark.parametrize("kind", ["tmpfs", "bind"])
@pytest.mark.parametrize("link", ["absolute", "relative"])
def test_symlink_destination_does_not_escape(rt, bundle, tmp_path, host_mount,
                                             kind, link):
    # a shared host directory: anything mounted on it from the container's
    # mount namespace would propagate back and show up on the host
    target = tmp_path / "host-target"
    target.mkdir()
    (target / "host-file").write_text("host data\n")
    host_mount("--bind", target, target)
    subprocess.run(["mount", "--make-shared", str(target)], check=True)
    before = mounts_under(target)

    rel = os.path.relpath(target, "/")
    if link == "absolute":
        os.symlink(str(target), bundle.rootfs / "escape")
    else:
        os.symlink("../" * 12 + rel, bundle.rootfs / "escape")
    bundle.linux["rootfsPropagation"] = "shared"
    if kind == "tmpfs":
        bundle.add_mount("/escape", "tmpfs", "tmpfs", ["size=1m"])
    else:
        src = tmp_path / "bind-src"
        src.mkdir()
        (src / "from-bind").write_text("bound\n")
        bundle.add_bind(src, "/escape", ["bind"])
    bundle.sh("ls -A /escape/; grep ' /%s ' /proc/self/mountinfo | wc -l" % rel)
    res = rt.run_container(rt.new_id(), bundle)

    # whatever the runtime did, the host directory is untouched
    assert mounts_under(target) == before, "a container mount escaped onto the host"
    assert sorted(os.listdir(target)) == ["host-file"]
    if res.returncode == 0:
        # resolved inside the rootfs: the mount is there, on the in-rootfs path
        lines = res.stdout.split()
        assert "host-file" not in lines
        assert lines[-1] == "1", res.stdout
        if kind == "bind":
            assert "from-bind" in lines
    rt.assert_clean()


# -- devices -----------------------------------------------------------------

DEFAULT_DEVICES = {
    "/dev/null": (1, 3), "/dev/zero": (1, 5), "/dev/full": (1, 7),
    "/dev/random": (1, 8), "/dev/urandom": (1, 9), "/dev/tty": (5, 0),
}


def test_default_devices(rt, bundle):
    script = "; ".join("stat -c '%%n %%F %%t %%T %%a' %s" % d for d in DEFAULT_DEVICES)
    bundle.sh(script)
    seen = {}
    for line in rt.run_ok(bundle).splitlines():
        name, rest = line.split(" ", 1)
        seen[name] = rest
    for dev, (major, minor) in DEFAULT_DEVICES.items():
        assert dev in seen, "%s missing" % dev
        assert seen[dev] == "character special file %x %x 666" % (major, minor), \
            (dev, seen[dev])


def test_default_devices_work(rt, bundle):
    bundle.sh("echo x > /dev/null && head -c 8 /dev/zero | od -An -tx1 | tr -d ' \\n'; "
              "echo; head -c 16 /dev/urandom | wc -c; "
              "echo x > /dev/full 2>/dev/null && echo wrote || echo full")
    assert rt.run_ok(bundle).split() == ["0000000000000000", "16", "full"]


def test_dev_links(rt, bundle):
    bundle.sh("for l in fd stdin stdout stderr; do readlink /dev/$l; done; "
              "readlink /dev/ptmx || stat -c '%t %T' /dev/ptmx")
    out = rt.run_ok(bundle).splitlines()
    assert out[:4] == ["/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1",
                       "/proc/self/fd/2"]
    assert out[4] in ("pts/ptmx", "/dev/pts/ptmx", "5 2")


def test_dev_pts_and_shm(rt, bundle):
    mounts = container_mounts(rt, bundle)
    pts = find_mount(mounts, "/dev/pts")
    shm = find_mount(mounts, "/dev/shm")
    assert pts["fstype"] == "devpts"
    assert shm["fstype"] == "tmpfs"
    # a new devpts instance, not the host's
    assert "ptmxmode=666" in pts["super"]


def test_dev_is_not_host_dev(rt, bundle):
    bundle.sh("ls /dev")
    names = set(rt.run_ok(bundle).split())
    # the host has plenty of devices the container must not get
    for hostdev in os.listdir("/dev"):
        if hostdev.startswith(("vd", "sd", "nvme", "loop", "mem", "kmsg", "port")):
            assert hostdev not in names, hostdev


def test_linux_devices(rt, bundle):
    bundle.linux["devices"] = [
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
         "fileMode": 0o640, "uid": 0, "gid": 0},
        {"path": "/dev/sub/myblk", "type": "b", "major": 7, "minor": 200,
         "fileMode": 0o600, "uid": 0, "gid": 0},
        {"path": "/dev/myfifo", "type": "p", "fileMode": 0o620},
    ]
    bundle.sh("stat -c '%F %t %T %a %u %g' /dev/mynull /dev/sub/myblk; "
              "stat -c '%F %a' /dev/myfifo")
    out = rt.run_ok(bundle).splitlines()
    assert out[0] == "character special file 1 3 640 0 0"
    assert out[1] == "block special file 7 c8 600 0 0"
    assert out[2] == "fifo 620"


def test_linux_devices_owner(rt, bundle):
    bundle.linux["devices"] = [
        {"path": "/dev/owned", "type": "c", "major": 1, "minor": 5,
         "fileMode": 0o600, "uid": 1234, "gid": 4321},
    ]
    bundle.sh("stat -c '%u %g' /dev/owned")
    assert rt.run_ok(bundle).split() == ["1234", "4321"]


# -- masked and read-only paths ---------------------------------------------


def test_masked_paths_default(rt, bundle):
    # /proc/timer_list and /sys/firmware exist on this kernel
    assert os.path.exists("/proc/timer_list")
    bundle.sh("wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l; "
              "grep -c ' /sys/firmware ' /proc/self/mountinfo")
    assert rt.run_ok(bundle).split() == ["0", "0", "1"]


def test_masked_paths_custom(rt, bundle):
    (bundle.rootfs / "etc" / "secret").write_text("s3cret\n")
    (bundle.rootfs / "secretdir").mkdir()
    (bundle.rootfs / "secretdir" / "inside").write_text("hidden\n")
    bundle.linux["maskedPaths"] = ["/etc/secret", "/secretdir", "/does/not/exist"]
    bundle.sh("cat /etc/secret; ls -A /secretdir | wc -l; "
              "touch /secretdir/x 2>/dev/null && echo writable || echo readonly")
    assert rt.run_ok(bundle).split() == ["0", "readonly"]


def test_readonly_paths_default(rt, bundle):
    mounts = container_mounts(rt, bundle)
    for p in ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"):
        if os.path.exists(p):
            m = find_mount(mounts, p)
            assert m is not None and "ro" in m["options"], (p, m)


def test_readonly_paths_custom(rt, bundle):
    bundle.config["root"]["readonly"] = False
    (bundle.rootfs / "data").mkdir()
    bundle.linux["readonlyPaths"] = ["/data", "/does/not/exist"]
    bundle.sh("touch /data/x 2>/dev/null && echo writable || echo readonly; "
              "touch /tmp/y && echo writable")
    assert rt.run_ok(bundle).split() == ["readonly", "writable"]


# -- names and sysctls --------------------------------------------------------


def test_hostname(rt, bundle):
    bundle.config["hostname"] = "box"
    bundle.sh("hostname; cat /proc/sys/kernel/hostname")
    assert rt.run_ok(bundle).split() == ["box", "box"]


@skip_on_runc("runc 1.1.5 ignores domainname")
def test_domainname(rt, bundle):
    bundle.config["hostname"] = "box"
    bundle.config["domainname"] = "example.test"
    bundle.sh("hostname; cat /proc/sys/kernel/domainname")
    assert rt.run_ok(bundle).split() == ["box", "example.test"]


def _host_sysctl(name):
    with open("/proc/sys/" + name.replace(".", "/")) as f:
        return f.read().strip()


def test_sysctl(rt, bundle):
    host_before = _host_sysctl("net.ipv4.ip_forward")
    want = "0" if host_before == "1" else "1"
    bundle.linux["sysctl"] = {"net.ipv4.ip_forward": want,
                              "kernel.msgmax": "12345"}
    bundle.sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax")
    assert rt.run_ok(bundle).split() == [want, "12345"]
    assert _host_sysctl("net.ipv4.ip_forward") == host_before
    assert _host_sysctl("kernel.msgmax") != "12345"


def test_sysctl_unknown_key_fails(rt, bundle, cid):
    bundle.linux["sysctl"] = {"net.ipv4.no_such_knob": "1"}
    bundle.set_args("true")
    rt.create(cid, bundle, check=False)
    rt.assert_clean()
