"""The details of krunc's command line that podman/conmon and containerd's
runc v2 shim depend on, checked directly on krunc (the client tests in
test_podman.py and test_containerd.py show them end to end). Each is what
runc does; the tests also pass with KRUNC=/usr/sbin/runc."""

import json
import os
import signal

import pytest

from clients_util import KRUNC, krunc_quiet, make_bundle, run_cmd, wait_until


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False

pytestmark = pytest.mark.clients


def test_delete_force_of_missing_container_succeeds(tmp_path):
    # podman runs `delete --force` to clean up after a create that failed
    r = run_cmd([KRUNC, "--root", tmp_path, "delete", "--force", "no-such-ctr"], check=False)
    assert (r.rc, r.out, r.err) == (0, "", ""), r.describe()
    # without --force it is still an error that says the container does not exist,
    # which is what the runc shim looks for to ignore it
    r = run_cmd([KRUNC, "--root", tmp_path, "delete", "no-such-ctr"], check=False)
    assert r.rc == 1 and "does not exist" in r.err, r.describe()


def test_kill_all_of_stopped_container_kills_what_is_left(tmp_path):
    """Without a pid namespace, the init's children outlive it. The runc
    shim sends `kill --all ID 9` after the init has exited to kill them: that
    must signal what is left in the cgroup, not fail with "not running"."""
    root = tmp_path / "root"
    bundle = make_bundle(tmp_path / "bundle",
                         ["sh", "-c", "sleep 1000 & echo $! > /tmp/child; exit 0"],
                         namespaces=("ipc", "uts", "mount", "network"))
    krunc_quiet("run", "-d", "-b", bundle, "kall", root=root)
    child_file = bundle / "rootfs" / "tmp" / "child"
    child = int(wait_until(lambda: child_file.exists() and child_file.read_text().strip(),
                           "the init to start its child"))
    try:
        wait_until(lambda: json.loads(run_cmd([KRUNC, "--root", root, "state", "kall"]).out)["status"]
                   == "stopped", "the init to exit")
        assert pid_alive(child)
        r = run_cmd([KRUNC, "--root", root, "kill", "--all", "kall", "9"], check=False)
        assert r.rc == 0, r.describe()
        wait_until(lambda: not pid_alive(child), "the left-over child to die")
    finally:
        if pid_alive(child):
            os.kill(child, signal.SIGKILL)
        run_cmd([KRUNC, "--root", root, "delete", "--force", "kall"], check=False)


# conmon and the runc shim are child subreapers: the container's init (after
# `create`) and an exec'd process (after `exec --detach`) must end up as their
# children, so that they can wait for them and learn the exit code. The
# helper below runs as such a subreaper, in its own process so pytest's own
# process is left as it is.
SUBREAPER = r'''
import ctypes, json, os, socket, array, subprocess, sys, tempfile
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(36, 1, 0, 0, 0) == 0      # PR_SET_CHILD_SUBREAPER
krunc, root = sys.argv[1], sys.argv[2]
out = {}
def k(*args):
    # a file, not a pipe, for stderr: the container inherits it and keeps it open
    with tempfile.TemporaryFile() as err:
        p = subprocess.run([krunc, "--root", root] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=err)
        err.seek(0)
        if p.returncode:
            raise SystemExit("krunc %s: %s" % (" ".join(args), err.read().decode()))
def wait(pid):
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
for step in json.loads(sys.argv[3]):
    what = step[0]
    if what == "krunc":
        k(*step[1:])
    elif what == "wait_pidfile":
        out[step[2]] = wait(int(open(step[1]).read()))
    elif what == "console":
        # krunc create --console-socket: receive the pty master, read what the container writes
        path, args, key = step[1], step[2], step[3]
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path); srv.listen(1)
        errf = tempfile.TemporaryFile()
        p = subprocess.Popen([krunc, "--root", root] + args[:1] + ["--console-socket", path] + args[1:],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf)
        srv.settimeout(0.1)
        while True:     # until krunc connects, or exits without doing so
            try:
                conn, _ = srv.accept()
                break
            except socket.timeout:
                if p.poll() is not None:
                    errf.seek(0)
                    raise SystemExit("krunc %s exited %d without connecting to the console socket: %s"
                                     % (" ".join(args), p.returncode, errf.read().decode()))
        conn.settimeout(30)
        fds = array.array("i")
        msg, anc, _, _ = conn.recvmsg(1024, socket.CMSG_LEN(fds.itemsize))
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[:fds.itemsize])
        p.wait()
        errf.seek(0)
        if p.returncode:
            raise SystemExit("krunc %s: %s" % (" ".join(args), errf.read().decode()))
        out[key] = {"fds": len(fds), "isatty": bool(fds) and os.isatty(fds[0])}
        out[key + ".fd"] = fds[0] if fds else -1
    elif what == "read_console":
        fd = out[step[1] + ".fd"]
        data = b""
        while b"\n" not in data:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        out[step[2]] = data.decode(errors="replace")
print(json.dumps({k: v for k, v in out.items() if not k.endswith(".fd")}))
'''


def subreaper(root, steps):
    r = run_cmd(["/usr/bin/python3", "-c", SUBREAPER, KRUNC, root, json.dumps(steps)], check=False)
    assert r.rc == 0, r.describe()
    return json.loads(r.out)


def test_init_is_reaped_by_the_callers_subreaper(tmp_path):
    root, bundle = tmp_path / "root", make_bundle(tmp_path / "b", ["sh", "-c", "exit 7"])
    pidfile = tmp_path / "init.pid"
    try:
        out = subreaper(root, [["krunc", "create", "-b", str(bundle), "--pid-file", str(pidfile), "c1"],
                               ["krunc", "start", "c1"],
                               ["wait_pidfile", str(pidfile), "init"]])
        assert out["init"] == 7
        # the pid file holds just the number, as runc writes it
        assert pidfile.read_text().isdigit()
    finally:
        run_cmd([KRUNC, "--root", root, "delete", "--force", "c1"], check=False)


def test_exec_detach_is_reaped_by_the_callers_subreaper(tmp_path):
    root, bundle = tmp_path / "root", make_bundle(tmp_path / "b", ["sleep", "1000"])
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"terminal": False, "user": {"uid": 0, "gid": 0},
                                   "args": ["sh", "-c", "exit 5"], "env": ["PATH=/bin"], "cwd": "/"}))
    pidfile = tmp_path / "exec.pid"
    try:
        krunc_quiet("run", "-d", "-b", bundle, "c1", root=root)
        # the runc shim's and conmon's call
        out = subreaper(root, [["krunc", "exec", "--process", str(process), "--detach",
                                "--pid-file", str(pidfile), "c1"],
                               ["wait_pidfile", str(pidfile), "exec"]])
        assert out["exec"] == 5
    finally:
        run_cmd([KRUNC, "--root", root, "delete", "--force", "c1"], check=False)


def test_console_socket_gets_the_pty_master(tmp_path):
    root = tmp_path / "root"
    bundle = make_bundle(tmp_path / "b", ["sh", "-c", "tty; exit 3"])
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["process"]["terminal"] = True
    cfg["mounts"] += [{"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                       "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}]
    (bundle / "config.json").write_text(json.dumps(cfg))
    pidfile = tmp_path / "init.pid"
    try:
        out = subreaper(root, [["console", str(tmp_path / "console.sock"),
                                ["create", "-b", str(bundle), "--pid-file", str(pidfile), "c1"], "pty"],
                               ["krunc", "start", "c1"],
                               ["read_console", "pty", "tty"],
                               ["wait_pidfile", str(pidfile), "init"]])
        assert out["pty"] == {"fds": 1, "isatty": True}
        assert out["tty"].strip() == "/dev/pts/0"
        assert out["init"] == 3
    finally:
        run_cmd([KRUNC, "--root", root, "delete", "--force", "c1"], check=False)


def test_flags_after_the_id(tmp_path):
    """runc takes a command's flags after its arguments too."""
    root, bundle = tmp_path / "root", make_bundle(tmp_path / "b", ["sleep", "1000"])
    pidfile = tmp_path / "init.pid"
    try:
        krunc_quiet("create", "c1", "--bundle", bundle, "--pid-file", pidfile, root=root)
        assert pidfile.read_text().isdigit()
        assert run_cmd([KRUNC, "--root", root, "list", "--quiet"]).out == "c1\n"
    finally:
        r = run_cmd([KRUNC, "--root", root, "delete", "c1", "--force"], check=False)
    assert r.rc == 0, r.describe()
    assert run_cmd([KRUNC, "--root", root, "list", "-q"]).out == ""
