"""podman (with conmon) drives krunc: `podman --runtime <krunc>`.

The image is made with `podman import` from a busybox-static rootfs; podman
keeps everything in a private --root/--runroot/--tmpdir, uses cgroupfs and the
file events backend, and passes krunc a private --root. Every case runs with
the default executor and with the krun executor (the annotation
run.oci.handler=krun, against the libkrun test double).

Run alone with:  /usr/bin/python3 -m pytest -m clients tests/integration
"""

import json
import os
import shutil
import uuid

import pytest

from clients_util import (KRUN_ANNOTATION, KRUNC, PODMAN_DEFAULT_CAPS, ULIMITS, Podman, busybox_rootfs, cap_mask,
                          cgroup_dir, expect_rc, is_vmm, kvm_device, read_text, require_fake_libkrun,
                          rootfs_tar_bytes, run_cmd, run_in_pty, wait_until)

pytestmark = [
    pytest.mark.clients,
    pytest.mark.skipif(shutil.which("podman") is None or shutil.which("conmon") is None,
                       reason="podman and conmon are not installed (make deps installs them)"),
]

IMAGE = "localhost/krunc-busybox:latest"


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    base = tmp_path_factory.mktemp("podman")
    p = Podman(base, KRUNC)
    rootfs = busybox_rootfs(base / "rootfs")
    tar = base / "busybox.tar"
    tar.write_bytes(rootfs_tar_bytes(rootfs))
    p("import", "--quiet", "--change", "ENV PATH=/bin", "--change", 'CMD ["/bin/sh"]', tar, IMAGE)
    yield p
    p.cleanup()
    shutil.rmtree(base, ignore_errors=True)


class Client:
    """One test's view of podman: the executor's flags added to every
    `podman run`, containers named per test and removed afterwards."""

    def __init__(self, podman, executor, flags, run_args):
        self.podman, self.executor, self.flags, self.run_args = podman, executor, flags, run_args
        self.names = []

    def __call__(self, *args, **kw):
        kw.setdefault("runtime_flags", self.flags)
        return self.podman(*args, **kw)

    def name(self):
        n = "t-" + uuid.uuid4().hex[:10]
        self.names.append(n)
        return n

    def run_argv(self, *args):
        return ["run", "--network", "none"] + ULIMITS + self.run_args + list(args)

    def run(self, *args, **kw):
        return self(*self.run_argv(*args), **kw)

    def pty_argv(self, *args):
        return self.podman.argv(*self.run_argv(*args), runtime_flags=self.flags)

    def inspect(self, name, fmt):
        return self("inspect", "--format", fmt, name).out.strip()

    def pid(self, name):
        return int(self.inspect(name, "{{.State.Pid}}"))


@pytest.fixture(params=["default", "krun"])
def pm(request, podman):
    if request.param == "krun":
        lib = require_fake_libkrun()
        with kvm_device():
            c = Client(podman, "krun", ["libkrun=%s" % lib], ["--annotation", KRUN_ANNOTATION])
            yield c
    else:
        c = Client(podman, "default", [], [])
        yield c
    for n in c.names:
        podman("rm", "--force", "--time", "0", n, check=False)
    # podman's clean-up must have deleted krunc's side of every container
    left = podman.krunc_leftovers()
    for cid in left:
        podman("rm", "--force", "--time", "0", cid, check=False)
    assert not left, "krunc state left behind after podman rm / run --rm: %s" % left


def test_run_echo(pm):
    r = pm.run("--rm", IMAGE, "echo", "hello")
    assert r.out == "hello\n", r.describe()
    # which executor ran it: a VM's pid 1 is the VMM (named "VM:<hostname>", as
    # libkrun names it), a namespace container's is the program itself
    comm = pm.run("--rm", IMAGE, "cat", "/proc/1/comm").out.strip()
    if pm.executor == "krun":
        assert is_vmm(comm), comm
    else:
        assert comm == "cat", comm


def test_krun_symlink_runtime(podman, tmp_path):
    """`podman --runtime .../krun`: krunc invoked as krun runs every container
    as a VM, with no annotation."""
    lib = require_fake_libkrun()
    link = tmp_path / "krun"
    link.symlink_to(KRUNC)
    with kvm_device():
        r = podman(*["run", "--rm", "--network", "none"] + ULIMITS + [IMAGE, "cat", "/proc/1/comm"],
                   runtime_flags=["libkrun=%s" % lib], runtime=link)
    assert is_vmm(r.out.strip()), r.describe()


def test_run_exit_code(pm):
    expect_rc(pm.run("--rm", IMAGE, "sh", "-c", "exit 42", check=False), 42)


def test_run_missing_command_is_127(pm):
    r = expect_rc(pm.run("--rm", IMAGE, "/no/such/program", check=False), 127)
    if pm.executor == "krun":
        # the VM starts; its guest init cannot run the program and exits 127,
        # saying so on the container's console
        assert "/no/such/program" in r.out, r.describe()
    else:
        # create fails; podman maps the runtime error "not found" to 127
        assert "/no/such/program" in r.err, r.describe()


def test_stdin(pm):
    r = pm.run("--rm", "-i", IMAGE, "sh", "-c", "cat; echo end", input="line1\nline2\n")
    assert r.out == "line1\nline2\nend\n", r.describe()


@pytest.mark.skipif(os.path.basename(KRUNC) == "runc", reason="krunc-specific message (runc's says 'type 7')")
def test_default_ulimits_error_names_rlimit(pm):
    """podman's default nofile limit is above what root may set here (no
    CAP_SYS_RESOURCE): krunc's error names the rlimit and the value."""
    p = pm.podman
    r = p(*["run", "--rm", "--network", "none", "--ulimit", "nproc=1024:1024"] + pm.run_args
          + [IMAGE, "true"], check=False, runtime_flags=pm.flags)
    if r.rc == 0:
        pytest.skip("this host lets root raise RLIMIT_NOFILE to podman's default")
    expect_rc(r, 126)
    assert "RLIMIT_NOFILE" in r.err and "1048576" in r.err, r.describe()


def test_detached_and_exec(pm):
    name = pm.name()
    pm.run("-d", "--name", name, IMAGE, "sleep", "1000")
    assert pm.inspect(name, "{{.State.Status}}") == "running"
    if pm.executor == "krun":
        # exec beside a VM would run on the host kernel: krunc refuses it
        r = pm("exec", name, "echo", "hi", check=False)
        assert r.rc != 0 and "krun" in r.err, r.describe()
        return
    r = pm("exec", name, "echo", "from-exec")
    assert r.out == "from-exec\n", r.describe()
    expect_rc(pm("exec", name, "sh", "-c", "exit 7", check=False), 7)
    # exec joins the container's pid namespace: pid 1 is the container's sleep
    r = pm("exec", name, "cat", "/proc/1/cmdline")
    assert r.out.split("\0")[:2] == ["sleep", "1000"], r.describe()
    r = pm("exec", "--env", "FOO=bar", "--workdir", "/tmp", name, "sh", "-c", 'echo "$FOO $PWD"')
    assert r.out == "bar /tmp\n", r.describe()
    r = pm("exec", "-i", name, "wc", "-l", input="x\ny\n")
    assert r.out.strip() == "2", r.describe()
    # podman maps krunc's exec errors as it does runc's: not found 127, not executable 126
    r = expect_rc(pm("exec", name, "/no/such/program", check=False), 127)
    assert "/no/such/program" in r.err, r.describe()
    expect_rc(pm("exec", name, "/etc/passwd", check=False), 126)
    assert pm("exec", "--user", "65534", name, "id", "-u").out == "65534\n"


def test_exec_tty(pm):
    name = pm.name()
    pm.run("-d", "--name", name, IMAGE, "sleep", "1000")
    argv = pm.podman.argv("exec", "-it", name, "sh", runtime_flags=pm.flags)
    if pm.executor == "krun":
        out, rc = run_in_pty(argv, env=pm.podman.env)
        assert rc != 0 and b"krun" in out, out
        return
    out, rc = run_in_pty(argv, steps=[(b"# ", b"tty; exit 4\r")], env=pm.podman.env)
    assert rc == 4, out
    assert b"/dev/pts/" in out, out


def test_stop_sigterm(pm):
    """stop sends SIGTERM; a process that handles it exits with its own code.
    libkrun does not pass SIGTERM into the guest: a VM container is killed
    after the timeout instead, its handler never runs."""
    name = pm.name()
    pm.run("-d", "--name", name, IMAGE, "sh", "-c",
           'trap "echo got-term; exit 11" TERM; echo ready; while :; do sleep 0.1; done')
    wait_until(lambda: "ready" in pm("logs", name).out, "the container to start its loop")
    vm = pm.executor == "krun"
    r = pm("stop", "--time", "2" if vm else "30", name)
    assert r.out.strip() == name, r.describe()
    if vm:
        assert "resorting to SIGKILL" in r.err, r.describe()
        assert pm.inspect(name, "{{.State.Status}} {{.State.ExitCode}}") == "exited 137"
        assert pm("logs", name).out == "ready\n"
        return
    assert "resorting to SIGKILL" not in r.err, r.describe()
    assert pm.inspect(name, "{{.State.Status}} {{.State.ExitCode}}") == "exited 11"
    assert pm("logs", name).out == "ready\ngot-term\n"


def test_stop_sigkill_after_timeout(pm):
    """A pid 1 without a SIGTERM handler ignores it: SIGKILL after the timeout."""
    name = pm.name()
    pm.run("-d", "--name", name, IMAGE, "sleep", "1000")
    r = pm("stop", "--time", "1", name)
    assert "resorting to SIGKILL" in r.err, r.describe()
    assert pm.inspect(name, "{{.State.Status}} {{.State.ExitCode}}") == "exited 137"


def test_rm(pm):
    name = pm.name()
    cid = pm.run("-d", "--name", name, IMAGE, "sleep", "1000").out.strip()
    assert (pm.podman.krunc_root / cid).is_dir()
    r = pm("rm", name, check=False)
    assert r.rc != 0, "rm of a running container must fail: " + r.describe()
    pm("rm", "--force", "--time", "0", name)
    assert name not in pm("ps", "--all", "--format", "{{.Names}}").out.split()
    assert not (pm.podman.krunc_root / cid).exists(), "krunc state of %s left after rm" % cid


def test_create_start_init(pm):
    """podman create + start -a (krunc create/start), a second start of the
    exited container, and rm -f of one that is only created (`podman init`)."""
    name = pm.name()
    p = pm.podman
    p(*["create", "--name", name, "--network", "none"] + ULIMITS + pm.run_args
      + [IMAGE, "sh", "-c", "echo started; exit 4"], runtime_flags=pm.flags)
    for _ in range(2):
        r = expect_rc(pm("start", "--attach", name, check=False), 4)
        assert r.out == "started\n", r.describe()
    name2 = pm.name()
    p(*["create", "--name", name2, "--network", "none"] + ULIMITS + pm.run_args
      + [IMAGE, "sleep", "1000"], runtime_flags=pm.flags)
    pm("init", name2)
    assert pm.inspect(name2, "{{.State.Status}}") == "initialized"
    cid = pm.inspect(name2, "{{.Id}}")
    state = run_cmd([KRUNC, "--root", p.krunc_root, "state", cid]).out
    assert json.loads(state)["status"] == "created", state
    pm("rm", "--force", "--time", "1", name2)
    assert not (p.krunc_root / cid).exists()


def test_ps(pm):
    name = pm.name()
    pm.run("-d", "--name", name, IMAGE, "sleep", "1000")
    rows = pm("ps", "--format", "{{.Names}} {{.Status}}").out.splitlines()
    assert any(r.startswith(name + " Up ") for r in rows), rows
    pm("kill", "--signal", "KILL", name)
    assert pm("wait", name).out.strip() == "137"
    assert name not in pm("ps", "--format", "{{.Names}}").out.split()
    rows = pm("ps", "--all", "--format", "{{.Names}} {{.Status}}").out.splitlines()
    assert any(r.startswith(name + " Exited (137)") for r in rows), rows


def test_logs(pm):
    name = pm.name()
    pm.run("-d", "--name", name, IMAGE, "sh", "-c", "echo to-out; echo to-err >&2; exit 3")
    assert pm("wait", name).out.strip() == "3"
    r = pm("logs", name)
    assert r.out == "to-out\n", r.describe()
    assert r.err == "to-err\n", r.describe()


def test_run_tty(pm):
    """run -t: the container gets a pty (through krunc's --console-socket) of
    the client's window size."""
    out, rc = run_in_pty(pm.pty_argv("--rm", "-t", IMAGE, "sh", "-c", "tty; stty size; exit 5"),
                         rows=33, cols=101, env=pm.podman.env)
    assert rc == 5, out
    lines = out.decode(errors="replace").replace("\r", "").split("\n")
    assert "/dev/pts/0" in lines, out
    assert "33 101" in lines, out


def test_run_interactive_shell(pm):
    out, rc = run_in_pty(pm.pty_argv("--rm", "-it", IMAGE, "sh"),
                         steps=[(b"# ", b"echo $((6*7)); exit 3\r")], env=pm.podman.env)
    assert rc == 3, out
    assert b"42" in out.replace(b"\r", b"").split(b"\n"), out


def test_pause_unpause(pm):
    name = pm.name()
    pm.run("-d", "--name", name, IMAGE, "sleep", "1000")
    freezer = cgroup_dir(pm.pid(name), "freezer")
    pm("pause", name)
    assert pm.inspect(name, "{{.State.Status}}") == "paused"
    assert read_text(freezer + "/freezer.state") == "FROZEN"
    pm("unpause", name)
    assert pm.inspect(name, "{{.State.Status}}") == "running"
    assert read_text(freezer + "/freezer.state") == "THAWED"
    pm("kill", "--signal", "KILL", name)
    assert pm("wait", name).out.strip() == "137"


def test_memory_limit(pm):
    name = pm.name()
    pm.run("-d", "--name", name, "--memory", "64m", IMAGE, "sleep", "1000")
    mem = cgroup_dir(pm.pid(name), "memory")
    assert read_text(mem + "/memory.limit_in_bytes") == str(64 << 20)


def test_update(pm):
    """podman update: krunc update --resources FILE on the running container."""
    name = pm.name()
    pm.run("-d", "--name", name, "--memory", "64m", IMAGE, "sleep", "1000")
    cpu = cgroup_dir(pm.pid(name), "cpu")
    pm("update", "--cpu-period", "100000", "--cpu-quota", "50000", "--memory", "96m", name)
    assert read_text(cpu + "/cpu.cfs_period_us") == "100000"
    assert read_text(cpu + "/cpu.cfs_quota_us") == "50000"
    mem = cgroup_dir(pm.pid(name), "memory")
    assert read_text(mem + "/memory.limit_in_bytes") == str(96 << 20)


def test_pids_limit(pm):
    name = pm.name()
    pm.run("-d", "--name", name, "--pids-limit", "12", IMAGE, "sleep", "1000")
    assert read_text(cgroup_dir(pm.pid(name), "pids") + "/pids.max") == "12"
    # the limit holds: 20 background sleeps cannot all be started
    r = pm.run("--rm", "--pids-limit", "12", IMAGE, "sh", "-c",
               "i=0; while [ $i -lt 20 ]; do sleep 100 & i=$((i+1)); done; echo spawned", check=False)
    assert "can't fork" in r.err and "spawned" not in r.out, r.describe()


def test_cap_drop(pm):
    r = pm.run("--rm", IMAGE, "grep", "^Cap", "/proc/self/status")
    caps = dict(line.split(":\t") for line in r.out.splitlines())
    assert caps["CapEff"] == cap_mask(PODMAN_DEFAULT_CAPS), r.describe()
    r = pm.run("--rm", "--cap-drop", "chown", "--cap-drop", "kill", IMAGE,
               "grep", "^Cap", "/proc/self/status")
    caps = dict(line.split(":\t") for line in r.out.splitlines())
    want = cap_mask([c for c in PODMAN_DEFAULT_CAPS if c not in ("CAP_CHOWN", "CAP_KILL")])
    assert caps["CapEff"] == want and caps["CapBnd"] == want, r.describe()
    r = pm.run("--rm", "--cap-drop", "all", IMAGE, "grep", "^CapEff", "/proc/self/status")
    assert r.out == "CapEff:\t0000000000000000\n", r.describe()
    # without CAP_CHOWN, chown fails
    r = pm.run("--rm", "--cap-drop", "chown", IMAGE, "chown", "65534", "/tmp", check=False)
    assert r.rc == 1 and "Operation not permitted" in r.err, r.describe()


def test_read_only(pm):
    r = pm.run("--rm", "--read-only", IMAGE, "touch", "/newfile", check=False)
    assert r.rc == 1 and "Read-only file system" in r.err, r.describe()
    # podman's --read-only keeps tmpfs mounts writable on /tmp, /var/tmp, /run
    r = pm.run("--rm", "--read-only", IMAGE, "sh", "-c", "touch /tmp/x && echo ok")
    assert r.out == "ok\n", r.describe()


def test_seccomp_profile(pm, tmp_path):
    profile = tmp_path / "seccomp.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }))
    r = pm.run("--rm", "--security-opt", "seccomp=%s" % profile, IMAGE, "mkdir", "/tmp/d", check=False)
    assert r.rc == 1 and "Operation not permitted" in r.err, r.describe()
    r = pm.run("--rm", "--security-opt", "seccomp=%s" % profile, IMAGE,
               "grep", "^Seccomp:", "/proc/self/status")
    assert r.out == "Seccomp:\t2\n", r.describe()
    r = pm.run("--rm", "--security-opt", "seccomp=unconfined", IMAGE,
               "sh", "-c", "mkdir /tmp/d && grep ^Seccomp: /proc/self/status")
    assert r.out == "Seccomp:\t0\n", r.describe()
