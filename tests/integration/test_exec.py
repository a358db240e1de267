"""exec and ps: a new process in a running container, seen from inside and outside."""

import array
import errno
import json
import os
import select
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from secutil import (IS_KRUNC, KRUNC, STATUS_SCRIPT, TIMEOUT, describe, krunc_only, mask, pytestmark,  # noqa: F401
                     rt, status_fields)


def ns_links(pid):
    out = {}
    for ns in ("ipc", "mnt", "net", "pid", "uts", "user", "cgroup"):
        try:
            out[ns] = os.readlink("/proc/%s/ns/%s" % (pid, ns))
        except FileNotFoundError:
            pass
    return out


def start_container(rt, cfg_change=None, args=("sleep", "1000")):
    path, cfg = rt.bundle()
    cfg["process"]["args"] = list(args)
    if cfg_change:
        cfg_change(cfg)
    rt.write(path, cfg)
    cid = rt.new_id()
    res = rt.run(["run", "-d", "--bundle", str(path), cid])
    assert res.returncode == 0, describe(res)
    pid = json.loads(rt.run(["state", cid]).stdout)["pid"]
    return cid, pid


def stop(rt, cid):
    rt.run(["delete", "--force", cid])


def test_exec_joins_the_container(rt):
    cid, pid = start_container(rt, lambda c: c["linux"]["namespaces"].append({"type": "cgroup"}))
    try:
        # the exec'd process reports its own namespaces through the host's /proc
        res = rt.run(["exec", cid, "sh", "-c", "echo $$ > /tmp/me; hostname; cat /proc/1/cmdline | tr '\\0' ' '; "
                      "echo; sleep 5 & echo bg=$!; wait"], timeout=TIMEOUT)
        assert res.returncode == 0, describe(res)
        out = res.stdout.split("\n")
        assert out[0] == "sec", out                 # the container's uts namespace
        assert out[1].strip() == "sleep 1000", out  # its pid namespace: pid 1 is the init
    finally:
        stop(rt, cid)


@krunc_only
def test_the_runtime_binary_is_closed_to_the_container(rt):
    """Until it execs, a created container's init is a copy of the runtime process; a process
    in the container must not reach the host's krunc through /proc/1/exe and keep it to write
    once krunc is no longer running (CVE-2019-5736). The init is not dumpable, so the open is
    refused. (runc 1.1 lets it open a read-only bind mount of its binary instead.) Once the
    container's own process has exec'd, /proc/1/exe is its binary and open to it as usual."""
    path, cfg = rt.bundle()
    cfg["process"]["args"] = ["sleep", "1000"]
    rt.write(path, cfg)
    cid = rt.new_id()
    res = rt.run(["create", "--bundle", str(path), cid])
    assert res.returncode == 0, describe(res)
    try:
        res = rt.run(["exec", cid, "sh", "-c", "head -c 4 /proc/1/exe > /dev/null && echo opened"])
        assert res.returncode != 0 and "opened" not in res.stdout, describe(res)
        assert "Permission denied" in res.stderr, describe(res)
        assert rt.run(["start", cid]).returncode == 0
        res = rt.run(["exec", cid, "sh", "-c", "head -c 4 /proc/1/exe | tail -c 3"])
        assert res.returncode == 0 and res.stdout == "ELF", describe(res)
    finally:
        stop(rt, cid)


def test_exec_namespaces_match_the_init(rt, tmp_path):
    cid, pid = start_container(rt, lambda c: c["linux"]["namespaces"].append({"type": "cgroup"}))
    try:
        res = rt.run(["exec", "-d", "--pid-file", str(tmp_path / "exec.pid"), cid, "sleep", "1000"])
        assert res.returncode == 0, describe(res)
        epid = int((tmp_path / "exec.pid").read_text())
        assert ns_links(epid) == ns_links(pid)
        # the pid file holds the host's pid of the process, which runs the command
        assert Path("/proc/%d/cmdline" % epid).read_bytes() == b"sleep\x001000\x00"
        # and it is in the init's cgroups
        assert Path("/proc/%d/cgroup" % epid).read_text() == Path("/proc/%d/cgroup" % pid).read_text()
    finally:
        stop(rt, cid)


def test_exec_exit_code_and_signal(rt):
    cid, _ = start_container(rt)
    try:
        assert rt.run(["exec", cid, "sh", "-c", "exit 42"]).returncode == 42
        assert rt.run(["exec", cid, "sh", "-c", "kill -9 $$"]).returncode == 128 + 9
        assert rt.run(["exec", cid, "true"]).returncode == 0
    finally:
        stop(rt, cid)


def test_exec_gets_the_container_security(rt):
    def change(c):
        c["process"]["capabilities"] = {k: ["CAP_KILL", "CAP_CHOWN"] for k in ("bounding", "effective", "permitted")}
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 321, "soft": 123}]
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                                               "errnoRet": errno.EXDEV}]}
    cid, _ = start_container(rt, change)
    try:
        res = rt.run(["exec", cid, "sh", "-c", STATUS_SCRIPT + "; ulimit -n; ulimit -Hn; mkdir /tmp/d; echo rc=$?"])
        assert res.returncode == 0, describe(res)
        st = status_fields(res.stdout)
        caps = mask(["CAP_KILL", "CAP_CHOWN"])
        assert st["CapBnd"] == caps and st["CapEff"] == caps and st["CapPrm"] == caps, st
        assert st["NoNewPrivs"] == 1 and st["Seccomp"] == 2, st
        assert "\n123\n321\n" in res.stdout, res.stdout
        assert "rc=1" in res.stdout and "Invalid cross-device link" in res.stderr, describe(res)
    finally:
        stop(rt, cid)


def test_exec_flags(rt):
    def change(c):
        c["process"]["noNewPrivileges"] = False
        c["process"]["env"].append("KEEP=1")
    cid, _ = start_container(rt, change)
    try:
        res = rt.run(["exec", "-u", "1000:1001", "-g", "7", "-g", "8", "-g", "9", "-e", "FOO=bar",
                      "-e", "KEEP=2", "--cwd", "/tmp", "--cap", "CAP_NET_RAW", "--no-new-privs", cid,
                      "sh", "-c", "id -u; id -g; id -G; echo $FOO $KEEP; pwd; " + STATUS_SCRIPT])
        assert res.returncode == 0, describe(res)
        out = res.stdout.split("\n")
        assert out[0] == "1000" and out[1] == "1001", out
        assert set(out[2].split()) == {"1001", "7", "8", "9"}, out
        assert out[3] == "bar 2" and out[4] == "/tmp", out
        st = status_fields(res.stdout)
        assert st["NoNewPrivs"] == 1, st
        assert st["CapBnd"] == mask(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]), st
        # the config's own process is not changed by exec's flags
        res = rt.run(["exec", cid, "sh", "-c", "id -u; echo $KEEP; " + STATUS_SCRIPT])
        assert res.stdout.split("\n")[:2] == ["0", "1"], res.stdout
        assert status_fields(res.stdout)["NoNewPrivs"] == 0
    finally:
        stop(rt, cid)


def test_exec_process_json(rt, tmp_path):
    cid, _ = start_container(rt)
    try:
        proc = {"terminal": False, "user": {"uid": 2000, "gid": 2000}, "args": ["sh", "-c",
                "id -u; echo $WHO; pwd; " + STATUS_SCRIPT], "env": ["PATH=/bin", "WHO=json"], "cwd": "/etc",
                "capabilities": {k: ["CAP_CHOWN"] for k in ("bounding", "effective", "permitted", "inheritable",
                                                              "ambient")},
                "noNewPrivileges": True}
        (tmp_path / "process.json").write_text(json.dumps(proc))
        res = rt.run(["exec", "--process", str(tmp_path / "process.json"), cid])
        assert res.returncode == 0, describe(res)
        out = res.stdout.split("\n")
        assert out[:3] == ["2000", "json", "/etc"], out
        st = status_fields(res.stdout)
        assert st["CapAmb"] == mask(["CAP_CHOWN"]) and st["CapEff"] == mask(["CAP_CHOWN"]), st
    finally:
        stop(rt, cid)


def test_exec_preserve_fds(rt, tmp_path):
    cid, _ = start_container(rt)
    try:
        data = tmp_path / "data"
        data.write_text("through fd 4\n")
        f3 = os.open(tmp_path / "other", os.O_WRONLY | os.O_CREAT)
        f4 = os.open(data, os.O_RDONLY)

        def as_3_and_4():
            # in the child only: the test process's own fds 3 and 4 are pytest's
            os.dup2(f3, 3)
            os.dup2(f4, 4)
        try:
            p = subprocess.run([KRUNC, "--root", str(rt.root), "exec", "--preserve-fds", "2", cid, "sh", "-c",
                                "cat <&4; ls /proc/self/fd"], preexec_fn=as_3_and_4, close_fds=False,
                               capture_output=True, text=True, timeout=TIMEOUT)
        finally:
            os.close(f3)
            os.close(f4)
        assert p.returncode == 0, p
        assert "through fd 4" in p.stdout
        fds = sorted(int(x) for x in p.stdout.split("\n", 1)[1].split())
        # 0-2, the two passed, and the one ls opened: nothing of krunc's
        assert fds[:5] == [0, 1, 2, 3, 4] and len(fds) <= 6, fds
    finally:
        stop(rt, cid)


def test_exec_cgroup_sub(rt):
    cid, pid = start_container(rt)
    line = [ln for ln in Path("/proc/%d/cgroup" % pid).read_text().splitlines() if ":pids:" in ln]
    if not line or not Path("/sys/fs/cgroup/pids").is_dir():
        stop(rt, cid)
        pytest.skip("no cgroup v1 pids hierarchy on this host")
    sub = Path("/sys/fs/cgroup/pids") / line[0].split(":", 2)[2].lstrip("/") / ("krunc-sub-" + cid)
    sub.mkdir()
    try:
        res = rt.run(["exec", "--cgroup", "pids:" + sub.name, cid, "cat", "/proc/self/cgroup"])
        assert res.returncode == 0, describe(res)
        assert any(ln.startswith(("8:pids:", "pids:")) or (":pids:" in ln and ln.endswith(sub.name))
                   for ln in res.stdout.splitlines()), res.stdout
        assert [ln for ln in res.stdout.splitlines() if ":pids:" in ln][0].endswith(sub.name), res.stdout
        res = rt.run(["exec", "--cgroup", "pids:no-such-sub", cid, "true"])
        assert res.returncode != 0, describe(res)
    finally:
        stop(rt, cid)
        for _ in range(100):
            try:
                sub.rmdir()
                break
            except OSError:
                time.sleep(0.05)


def test_exec_tty_console_socket(rt, tmp_path):
    cid, _ = start_container(rt)
    sock_path = tmp_path / "console.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    server.listen(1)
    got = {}

    def receive():
        conn, _ = server.accept()
        data, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(16))
        fds = array.array("i")
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[:len(payload) - len(payload) % 4])
        got["fd"] = fds[0]
        conn.close()
    t = threading.Thread(target=receive, daemon=True)
    t.start()
    try:
        res = rt.run(["exec", "-t", "-d", "--console-socket", str(sock_path), cid, "sh", "-c",
                      "tty; stty size; sleep 1000"])
        assert res.returncode == 0, describe(res)
        t.join(TIMEOUT)
        fd = got["fd"]
        out = b""
        deadline = time.monotonic() + TIMEOUT
        while b"/dev/pts/" not in out or b"\n" not in out.split(b"/dev/pts/", 1)[1]:
            assert time.monotonic() < deadline, out
            r, _, _ = select.select([fd], [], [], 1)
            if r:
                out += os.read(fd, 4096)
        os.close(fd)
        # the exec'd process got a pty of the container's devpts, not /dev/console
        assert b"/dev/pts/0" in out or b"/dev/pts/1" in out, out
    finally:
        server.close()
        stop(rt, cid)


@krunc_only
def test_exec_tty_foreground_pipe(rt):
    cid, _ = start_container(rt)
    try:
        p = subprocess.run([KRUNC, "--root", str(rt.root), "exec", "-t", cid, "sh", "-c", "read x; echo got-$x; tty"],
                           input=b"typed\n", capture_output=True, timeout=TIMEOUT)
        assert p.returncode == 0, p
        assert b"got-typed" in p.stdout and b"/dev/pts/" in p.stdout, p
    finally:
        stop(rt, cid)


def test_exec_bad_input(rt):
    cid, _ = start_container(rt)
    try:
        res = rt.run(["exec", "-u", "abc", cid, "true"])
        assert res.returncode != 0 and res.stderr.strip(), describe(res)
        if IS_KRUNC:
            assert '--user: "abc" is not UID[:GID]' in res.stderr
        res = rt.run(["exec", cid, "/no/such/binary"])
        assert res.returncode != 0 and "/no/such/binary" in res.stderr, describe(res)
        res = rt.run(["exec", "-t", "-d", cid, "true"])
        assert res.returncode != 0, describe(res)
        if IS_KRUNC:
            res = rt.run(["exec", "--cap", "CAP_NOPE", cid, "true"])
            assert res.returncode != 0 and 'unknown capability "CAP_NOPE"' in res.stderr, describe(res)
        res = rt.run(["exec", "no-such-container", "true"])
        assert res.returncode != 0 and res.stderr.strip(), describe(res)
    finally:
        stop(rt, cid)


def test_exec_into_a_stopped_container(rt):
    cid, pid = start_container(rt, args=("true",))
    try:
        deadline = time.monotonic() + TIMEOUT
        while json.loads(rt.run(["state", cid]).stdout)["status"] != "stopped":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        res = rt.run(["exec", cid, "true"])
        assert res.returncode != 0 and "stopped" in res.stderr, describe(res)
    finally:
        stop(rt, cid)


def test_ps(rt):
    cid, pid = start_container(rt, args=("sh", "-c", "sleep 1000 & sleep 1001"))
    try:
        if IS_KRUNC and "cgroup" not in json.loads((rt.root / cid / "state.json").read_text()):
            pytest.skip("this build's cgroups module records no cgroup for the container (a placeholder)")
        res = rt.run(["ps", "--format", "json", cid])
        assert res.returncode == 0, describe(res)
        pids = json.loads(res.stdout)
        assert pid in pids and len(pids) == 2, pids
        res = rt.run(["ps", cid])
        assert res.returncode == 0, describe(res)
        lines = res.stdout.splitlines()
        assert lines[0].split()[1] == "PID", lines
        assert {int(ln.split()[1]) for ln in lines[1:]} <= set(pids) and len(lines) >= 2, lines
        res = rt.run(["ps", cid, "-o", "pid,comm"])
        assert res.returncode == 0, describe(res)
        assert {int(ln.split()[0]) for ln in res.stdout.splitlines()[1:]} == set(pids), res.stdout
    finally:
        stop(rt, cid)


@krunc_only     # runc 1.1 predates execCPUAffinity
@pytest.mark.parametrize("affinity,want", [
    ({"initial": "0", "final": "1"}, "1"),
    ({"final": "0"}, "0"),
    # initial only: after the cgroup join the process is back on every CPU its cgroup allows
    ({"initial": "1"}, None),
])
def test_exec_cpu_affinity(rt, tmp_path, affinity, want):
    if os.cpu_count() < 2:
        pytest.skip("needs 2 CPUs")
    cid, pid = start_container(rt)
    try:
        proc = {"args": ["grep", "Cpus_allowed_list", "/proc/self/status"], "cwd": "/", "env": ["PATH=/bin"],
                "user": {"uid": 0, "gid": 0}, "execCPUAffinity": affinity}
        (tmp_path / "p.json").write_text(json.dumps(proc))
        res = rt.run(["exec", "-p", str(tmp_path / "p.json"), cid])
        assert res.returncode == 0, describe(res)
        got = res.stdout.split(":")[1].strip()
        if want is None:
            want = [ln for ln in Path("/proc/%d/status" % pid).read_text().splitlines()
                    if ln.startswith("Cpus_allowed_list")][0].split(":")[1].strip()
        assert got == want, res.stdout
        # the init itself is not touched
        assert "Cpus_allowed_list" in Path("/proc/%d/status" % pid).read_text()
    finally:
        stop(rt, cid)
