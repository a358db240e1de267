"""containerd (and its runc v2 shim) drives krunc.

The test starts its own containerd on a private socket, root and state
directory, imports an OCI image that it writes itself (blobs, manifest,
config, index.json) from a busybox-static rootfs with `ctr images import`,
and runs it with `ctr run --runc-binary <krunc>` (the shim's BinaryName
option: the same field the CRI configuration in docs/kubernetes.md sets).
Every case runs with the default executor and with the krun executor (the
annotation run.oci.handler=krun, against the libkrun test double).

Run alone with:  /usr/bin/python3 -m pytest -m clients tests/integration
"""

import json
import os
import re
import shutil
import subprocess
import uuid

import pytest

from cri_client import CONTAINER_EXITED, CONTAINER_RUNNING
from clients_util import (KRUN_ANNOTATION, KRUNC, REPO, Containerd, busybox_rootfs, cgroup_dir,
                          expect_rc, fake_libkrun, is_vmm, kvm_device, oci_image_archive, read_text,
                          require_fake_libkrun, run_in_pty, wait_until)

pytestmark = [
    pytest.mark.clients,
    pytest.mark.skipif(shutil.which("containerd") is None or shutil.which("ctr") is None
                       or shutil.which("containerd-shim-runc-v2") is None,
                       reason="containerd is not installed (make deps installs it)"),
]

IMAGE = "localhost/krunc-busybox:latest"


@pytest.fixture(scope="module")
def containerd(tmp_path_factory):
    base = tmp_path_factory.mktemp("containerd")
    env = dict(os.environ)
    lib = fake_libkrun()
    if lib:
        # containerd -> shim -> krunc: the krun cases find the double here
        env["KRUNC_LIBKRUN"] = str(lib)
    c = Containerd(base, KRUNC, env=env).start()
    try:
        rootfs = busybox_rootfs(base / "rootfs")
        oci_image_archive(rootfs, base / "image.tar", IMAGE)
        r = c.ctr("images", "import", "--snapshotter", "native", base / "image.tar")
        assert IMAGE in r.out, r.describe()
        yield c
    finally:
        c.stop()
        shutil.rmtree(base, ignore_errors=True)


class Client:
    def __init__(self, containerd, executor, run_args):
        self.c, self.executor, self.run_args = containerd, executor, run_args
        self.ids = []

    def __call__(self, *args, **kw):
        return self.c.ctr(*args, **kw)

    def new_id(self):
        i = "t-" + uuid.uuid4().hex[:10]
        self.ids.append(i)
        return i

    def run_argv(self, *args):
        return ["run", "--snapshotter", "native", "--runc-binary", self.c.runtime,
                "--runc-root", self.c.runc_root] + self.run_args + list(args)

    def run(self, *args, **kw):
        return self(*self.run_argv(*args), **kw)

    def popen_run(self, cid, *cmd):
        """`ctr run` in the foreground, as a child we can wait for."""
        return subprocess.Popen(self.c.ctr_argv(*self.run_argv(IMAGE, cid, *cmd)),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def task_status(self, cid):
        for line in self("tasks", "ls").out.splitlines()[1:]:
            f = line.split()
            if f and f[0] == cid:
                return f[2]
        return None

    def task_pid(self, cid):
        for line in self("tasks", "ls").out.splitlines()[1:]:
            f = line.split()
            if f and f[0] == cid:
                return int(f[1])
        raise AssertionError("no task %s" % cid)


@pytest.fixture(params=["default", "krun"])
def ct(request, containerd):
    if request.param == "krun":
        require_fake_libkrun()
        with kvm_device():
            c = Client(containerd, "krun", ["--annotation", KRUN_ANNOTATION])
            yield c
    else:
        c = Client(containerd, "default", [])
        yield c
    for cid in c.ids:
        containerd.ctr("tasks", "delete", "--force", cid, check=False)
        containerd.ctr("containers", "delete", cid, check=False)
    left = containerd.runtime_leftovers()
    assert not left, "krunc state left behind after the shim deleted its tasks: %s" % left


def test_run_echo(ct):
    r = ct.run("--rm", IMAGE, ct.new_id(), "echo", "hello")
    assert r.out == "hello\n", r.describe()
    # a VM's pid 1 is the VMM ("VM:<hostname>"), a namespace container's the program
    comm = ct.run("--rm", IMAGE, ct.new_id(), "cat", "/proc/1/comm").out.strip()
    assert is_vmm(comm) if ct.executor == "krun" else comm == "cat", comm


def test_run_exit_code(ct):
    expect_rc(ct.run("--rm", IMAGE, ct.new_id(), "sh", "-c", "exit 7", check=False), 7)


def test_stdin(ct):
    # ctr does not pass on the end of its stdin: the process reads lines, not to EOF
    r = ct.c.ctr(*ct.run_argv("--rm", IMAGE, ct.new_id(), "sh", "-c",
                              "read a; read b; echo $b $a"), input="line1\nline2\n")
    assert r.out == "line2 line1\n", r.describe()


def test_create_error_comes_from_log_json(ct):
    """The shim reads krunc's --log file (JSON lines) for the error of a
    failed create; without it the shim says it could not retrieve one."""
    if ct.executor == "krun":
        # the VM starts and its guest init fails to run the program: exit code 127
        r = ct.run("--rm", IMAGE, ct.new_id(), "/no/such/program", check=False)
        assert r.rc == 127 and "/no/such/program" in r.out, r.describe()
        # a create that fails in krunc itself: a krun.* annotation it rejects
        r = ct.run("--rm", "--annotation", "krun.cpus=lots", IMAGE, ct.new_id(), "true", check=False)
        assert r.rc == 1 and "OCI runtime create failed" in r.err, r.describe()
        assert "krun.cpus" in r.err and "unable to retrieve OCI runtime error" not in r.err, \
            r.describe()
        return
    r = ct.run("--rm", IMAGE, ct.new_id(), "/no/such/program", check=False)
    assert r.rc == 1, r.describe()
    assert "OCI runtime create failed" in r.err, r.describe()
    assert "/no/such/program" in r.err and "unable to retrieve OCI runtime error" not in r.err, \
        r.describe()


def test_detached_exec(ct):
    cid = ct.new_id()
    ct.run("--detach", IMAGE, cid, "sleep", "1000")
    assert ct.task_status(cid) == "RUNNING"
    if ct.executor == "krun":
        r = ct("tasks", "exec", "--exec-id", "e1", cid, "echo", "hi", check=False)
        assert r.rc != 0 and "krun" in r.err, r.describe()
        return
    r = ct("tasks", "exec", "--exec-id", "e1", cid, "echo", "from-exec")
    assert r.out == "from-exec\n", r.describe()
    expect_rc(ct("tasks", "exec", "--exec-id", "e2", cid, "sh", "-c", "exit 5", check=False), 5)
    r = ct("tasks", "exec", "--exec-id", "e3", "--cwd", "/tmp", cid, "sh", "-c", "echo $PWD; cat /proc/1/cmdline")
    assert r.out.split("\n")[0] == "/tmp" and r.out.split("\n")[1].split("\0")[:2] == ["sleep", "1000"], \
        r.describe()
    r = ct("tasks", "exec", "--exec-id", "e4", cid, "/no/such/program", check=False)
    assert r.rc != 0 and "/no/such/program" in r.err, r.describe()


def test_exec_tty(ct):
    cid = ct.new_id()
    ct.run("--detach", IMAGE, cid, "sleep", "1000")
    argv = ct.c.ctr_argv("tasks", "exec", "--tty", "--exec-id", "tty1", cid, "sh")
    if ct.executor == "krun":
        out, rc = run_in_pty(argv)
        assert rc != 0 and b"krun" in out, out
        return
    out, rc = run_in_pty(argv, steps=[(b"# ", b"tty; exit 6\r")])
    assert rc == 6, out
    assert b"/dev/pts/" in out, out


def test_task_ps(ct):
    cid = ct.new_id()
    ct.run("--detach", IMAGE, cid, "sleep", "1000")
    pid = ct.task_pid(cid)
    rows = ct("tasks", "ps", cid).out.split()
    assert str(pid) in rows, rows


def test_kill_sigterm_exit_code(ct):
    """ctr task kill sends SIGTERM; the handler's exit code is the task's.
    libkrun does not pass SIGTERM into the guest: a VM task needs SIGKILL."""
    cid = ct.new_id()
    p = ct.popen_run(cid, "sh", "-c", 'trap "echo got-term; exit 11" TERM; echo ready; '
                                      'while :; do sleep 0.1; done')
    try:
        assert p.stdout.readline() == "ready\n"
        ct("tasks", "kill", cid)
        if ct.executor == "krun":
            ct("tasks", "kill", "--signal", "SIGKILL", cid)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if ct.executor == "krun":
        assert (out, p.returncode) == ("", 137), (out, err)
        assert ct.task_status(cid) is None
        return
    assert out == "got-term\n", err
    assert p.returncode == 11, err
    # ctr run deletes the task once it has its exit status
    assert ct.task_status(cid) is None
    assert cid not in ct.c.runtime_leftovers()


def test_kill_sigkill_and_delete(ct):
    cid = ct.new_id()
    ct.run("--detach", IMAGE, cid, "sleep", "1000")
    r = ct("tasks", "delete", cid, check=False)
    assert r.rc != 0 and "must be stopped" in r.err, r.describe()
    ct("tasks", "kill", "--signal", "SIGKILL", cid)
    wait_until(lambda: ct.task_status(cid) == "STOPPED", "the task to stop after SIGKILL")
    r = ct("tasks", "delete", cid)
    assert "137" in r.err, r.describe()   # ctr warns of the non-zero exit code
    assert cid not in ct.c.runtime_leftovers()
    ct("containers", "delete", cid)
    assert cid not in ct("containers", "ls", "--quiet").out.split()


def test_delete_force_running(ct):
    cid = ct.new_id()
    ct.run("--detach", IMAGE, cid, "sleep", "1000")
    ct("tasks", "delete", "--force", cid)
    assert ct.task_status(cid) is None
    assert cid not in ct.c.runtime_leftovers()


def test_metrics(ct):
    """The shim reads the task's cgroup for metrics: krunc placed it in the
    cgroupsPath ctr asked for, with the memory limit."""
    cid = ct.new_id()
    ct.run("--detach", "--memory-limit", str(64 << 20), IMAGE, cid, "sleep", "1000")
    m = json.loads(ct("tasks", "metrics", "--format", "json", cid).out)
    assert m["memory"]["usage"]["limit"] == 64 << 20, m["memory"]
    # a VM container holds the VMM (the double: and the workload it runs)
    if ct.executor == "krun":
        assert m["pids"]["current"] >= 1, m["pids"]
    else:
        assert m["pids"]["current"] == 1, m["pids"]
    assert cgroup_dir(ct.task_pid(cid), "memory").endswith("/%s/%s" % (ct.c.namespace, cid))


def test_pause_resume(ct):
    cid = ct.new_id()
    ct.run("--detach", IMAGE, cid, "sleep", "1000")
    freezer = cgroup_dir(ct.task_pid(cid), "freezer")
    ct("tasks", "pause", cid)
    assert ct.task_status(cid) == "PAUSED"
    assert read_text(freezer + "/freezer.state") == "FROZEN"
    ct("tasks", "resume", cid)
    assert ct.task_status(cid) == "RUNNING"
    assert read_text(freezer + "/freezer.state") == "THAWED"


def test_run_tty(ct):
    out, rc = run_in_pty(ct.c.ctr_argv(*ct.run_argv("--rm", "--tty", IMAGE, ct.new_id(), "sh")),
                         steps=[(b"# ", b"echo $((6*7)); tty; exit 3\r")])
    assert rc == 3, out
    lines = out.replace(b"\r", b"").split(b"\n")
    assert b"42" in lines and b"/dev/pts/0" in lines, out


# ---------------------------------------------------------------------------
# Kubernetes: containerd's CRI plugin with the runtimes of docs/kubernetes.md


def kubernetes_doc_containerd_toml():
    """The containerd block of docs/kubernetes.md, as a user copies it."""
    doc = (REPO / "docs" / "kubernetes.md").read_text()
    for block in re.findall(r"```toml\n(.*?)```", doc, re.S):
        if "runtimes.krunc" in block and "io.containerd.grpc.v1.cri" in block:
            return block
    raise AssertionError("docs/kubernetes.md has no containerd runtimes.krunc block")


@pytest.fixture(scope="module")
def cri(tmp_path_factory):
    """containerd with its CRI plugin, configured with the docs' runtimes
    (binaries pointed at this build), and a CRI client to it."""
    try:
        from cri_client import RuntimeService
    except ImportError as e:
        pytest.fail("the CRI test needs python3-grpcio (make deps installs it): %s" % e)
    base = tmp_path_factory.mktemp("cri")
    krun_link = base / "krun"
    krun_link.symlink_to(KRUNC)
    runtime_root = base / "runtime-root"
    block = kubernetes_doc_containerd_toml()
    assert '"/usr/local/bin/krunc"' in block and '"/usr/local/bin/krun"' in block
    block = block.replace('"/usr/local/bin/krunc"', '"%s"' % KRUNC)
    block = block.replace('"/usr/local/bin/krun"', '"%s"' % krun_link)
    # krunc's state in a private --root (the shim's Root option)
    block = re.sub(r"(\n(\s*)BinaryName = [^\n]*)", r'\1\n\2Root = "%s"' % runtime_root, block)
    (base / "cni-bin").mkdir()
    (base / "cni-conf").mkdir()
    test_config = (
        '[plugins."io.containerd.grpc.v1.cri"]\n'
        '  sandbox_image = "localhost/krunc-pause:latest"\n'
        '  stream_server_address = "127.0.0.1"\n'
        '  stream_server_port = "0"\n'
        '  enable_selinux = false\n'
        # root here lacks CAP_SYS_RESOURCE: the sandbox's oomScoreAdj -998 cannot be set
        '  restrict_oom_score_adj = true\n'
        '  [plugins."io.containerd.grpc.v1.cri".cni]\n'
        '    bin_dir = "%s"\n    conf_dir = "%s"\n'
        '  [plugins."io.containerd.grpc.v1.cri".containerd]\n'
        '    snapshotter = "native"\n'
        '    default_runtime_name = "krunc"\n' % (base / "cni-bin", base / "cni-conf"))
    env = dict(os.environ)
    lib = fake_libkrun()
    if lib:
        env["KRUNC_LIBKRUN"] = str(lib)
    c = Containerd(base / "containerd", KRUNC, cri=True, env=env,
                   extra_config=test_config + block)
    c.runc_root = runtime_root
    c.namespace = "k8s.io"
    c.start()
    rs = None
    try:
        rootfs = busybox_rootfs(base / "rootfs")
        oci_image_archive(rootfs, base / "image.tar", IMAGE)
        oci_image_archive(rootfs, base / "pause.tar", "localhost/krunc-pause:latest",
                          cmd=("sleep", "2147483647"))
        for tar in ("image.tar", "pause.tar"):
            c.ctr("images", "import", "--snapshotter", "native", base / tar)
        rs = RuntimeService(c.address)
        assert rs.version()[0] == "containerd"
        yield c, rs, base
    finally:
        if rs:
            rs.close()
        c.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("handler,annotations", [
    ("krunc", {}),
    ("krun", {}),
    ("krunc", {"run.oci.handler": "krun"}),
], ids=["krunc", "krun-handler", "krunc-annotation"])
def test_cri_pod(cri, handler, annotations):
    """A pod as the kubelet runs it, with the RuntimeClass handler `handler`."""
    import grpc
    c, rs, base = cri
    vm = handler == "krun" or annotations.get("run.oci.handler") == "krun"
    kvm = kvm_device()
    if vm:
        require_fake_libkrun()
        kvm.__enter__()
    name = "pod-" + uuid.uuid4().hex[:8]
    logs = base / "logs" / name
    logs.mkdir(parents=True)
    sandbox_cfg = rs.sandbox_config(name, name, str(logs), annotations)
    sid = cid = None
    try:
        sid = rs.run_pod_sandbox(sandbox_cfg, handler)
        cid = rs.create_container(sid, sandbox_cfg, "main", IMAGE,
                                  ["sh", "-c", "echo hello-from-cri; cat /proc/1/comm; exec sleep 1000"],
                                  "main.log")
        rs.start_container(cid)
        # BinaryName took effect: the containers are in krunc's (private) root
        assert {sid, cid} <= set(c.runtime_leftovers()), c.runtime_leftovers()
        log = wait_until(lambda: (logs / "main.log").exists() and
                         (logs / "main.log").read_text().count("\n") >= 2 and
                         (logs / "main.log").read_text(), "the container's log")
        lines = [line.split(" ", 1)[1] for line in log.splitlines()]
        assert lines[0] == "stdout F hello-from-cri", log
        # the executor that ran it: the VMM is pid 1 of a VM ("VM:<hostname>")
        if vm:
            assert is_vmm(lines[1][len("stdout F "):]), log
        else:
            assert lines[1] == "stdout F sh", log
        assert rs.container_status(cid)[0] == CONTAINER_RUNNING
        if vm:
            with pytest.raises(grpc.RpcError) as e:
                rs.exec_sync(cid, ["echo", "hi"])
            assert "krun" in e.value.details(), e.value.details()
        else:
            assert rs.exec_sync(cid, ["sh", "-c", "echo from-exec; exit 3"]) == ("from-exec\n", "", 3)
        rs.stop_container(cid, 0)
        state, code, reason, _ = rs.container_status(cid)
        assert (state, code) == (CONTAINER_EXITED, 137), (state, code, reason)
        rs.remove_container(cid)
        cid = None
        rs.stop_pod_sandbox(sid)
        rs.remove_pod_sandbox(sid)
        sid = None
        assert c.runtime_leftovers() == []
    finally:
        try:
            if cid:
                rs.remove_container(cid)
            if sid:
                rs.stop_pod_sandbox(sid)
                rs.remove_pod_sandbox(sid)
        finally:
            if vm:
                kvm.__exit__(None, None, None)
