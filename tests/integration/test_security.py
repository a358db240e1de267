"""Process security, seccomp and terminals, checked from inside real containers.

Self-contained (bundle and runtime helpers in secutil.py).  The runtime is $KRUNC
(default <repo>/build/krunc); with KRUNC=/usr/sbin/runc the same expectations
run against the reference, except the tests marked krunc-only (error texts,
behaviour runc 1.1 lacks).
"""

import array
import ctypes
import errno
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import socket
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path

import pytest

from secutil import (IS_KRUNC, KRUNC, STATUS_SCRIPT, TIMEOUT, describe, krunc_only, mask, pytestmark,  # noqa: F401
                     rt, run_ok, status_fields)

# ---------------------------------------------------------------------------
# capabilities and no_new_privs


def expected_after_exec(uid, caps, nnp=True):
    """The five sets the kernel gives a plain binary (no file capabilities)."""
    b, p, i, a = (mask(caps.get(k, [])) for k in ("bounding", "permitted", "inheritable", "ambient"))
    a &= p & i
    if uid == 0:
        # root: the file counts as having every capability; with no_new_privs
        # execve cannot gain any beyond the permitted set
        pp = i | b | a
        if nnp:
            pp &= p
        return {"CapBnd": b, "CapPrm": pp, "CapEff": pp, "CapInh": i, "CapAmb": a}
    return {"CapBnd": b, "CapPrm": a, "CapEff": a, "CapInh": i, "CapAmb": a}


CAP_CASES = {
    "runc-default": {k: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                     for k in ("bounding", "effective", "permitted", "ambient")},
    "ambient": {
        "bounding": ["CAP_CHOWN", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE", "CAP_SETPCAP", "CAP_SYS_ADMIN"],
        "permitted": ["CAP_CHOWN", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE"],
        "effective": ["CAP_CHOWN"],
        "inheritable": ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
        "ambient": ["CAP_NET_BIND_SERVICE"],
    },
    "none": {},
}


@pytest.mark.parametrize("nnp", [True, False])
@pytest.mark.parametrize("uid", [0, 1000])
@pytest.mark.parametrize("case", sorted(CAP_CASES))
def test_capability_sets(rt, uid, case, nnp):
    path, cfg = rt.bundle()
    cfg["process"]["user"] = {"uid": uid, "gid": uid}
    cfg["process"]["capabilities"] = CAP_CASES[case]
    cfg["process"]["noNewPrivileges"] = nnp
    cfg["process"]["args"] = ["sh", "-c", STATUS_SCRIPT]
    got = status_fields(run_ok(rt, path, cfg))
    want = expected_after_exec(uid, CAP_CASES[case], nnp)
    for k, v in want.items():
        assert got[k] == v, "%s: %s is %#x, want %#x (%r)" % (case, k, got[k], v, got)
    assert got["NoNewPrivs"] == int(nnp)


def test_no_capabilities_object_drops_everything(rt):
    path, cfg = rt.bundle()
    del cfg["process"]["capabilities"]
    cfg["process"]["args"] = ["sh", "-c", STATUS_SCRIPT]
    got = status_fields(run_ok(rt, path, cfg))
    assert all(got[k] == 0 for k in ("CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb")), got


def test_capability_is_usable(rt):
    """CAP_CHOWN in the sets lets root chown; without it the same chown fails."""
    path, cfg = rt.bundle()
    cfg["process"]["args"] = ["sh", "-c", "touch /tmp/f && chown 123 /tmp/f && echo chowned"]
    cfg["process"]["capabilities"] = {k: ["CAP_CHOWN"] for k in ("bounding", "effective", "permitted")}
    assert "chowned" in run_ok(rt, path, cfg)
    cfg["process"]["capabilities"] = {k: ["CAP_KILL"] for k in ("bounding", "effective", "permitted")}
    res = rt.run_container(path, cfg)
    assert res.returncode != 0 and "Operation not permitted" in res.stderr, describe(res)


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(rt, nnp):
    path, cfg = rt.bundle()
    cfg["process"]["noNewPrivileges"] = nnp
    cfg["process"]["args"] = ["sh", "-c", STATUS_SCRIPT]
    assert status_fields(run_ok(rt, path, cfg))["NoNewPrivs"] == int(nnp)


@krunc_only
def test_unknown_capability_is_an_error(rt):
    path, cfg = rt.bundle()
    cfg["process"]["capabilities"]["bounding"].append("CAP_FOO")
    rt.write(path, cfg)
    res = rt.run(["create", "--bundle", str(path), rt.new_id()])
    assert res.returncode != 0
    assert 'process.capabilities.bounding[3]: unknown capability "CAP_FOO"' in res.stderr, describe(res)
    assert rt.leftovers() == []


@krunc_only
def test_effective_outside_permitted_is_an_error(rt):
    path, cfg = rt.bundle()
    cfg["process"]["capabilities"]["effective"].append("CAP_SYS_ADMIN")
    rt.write(path, cfg)
    res = rt.run(["create", "--bundle", str(path), rt.new_id()])
    assert res.returncode != 0
    assert "process.capabilities.effective: CAP_SYS_ADMIN not in process.capabilities.permitted" in res.stderr
    assert rt.leftovers() == []


# ---------------------------------------------------------------------------
# other process settings


@krunc_only     # runc 1.1 predates these fields
def test_scheduler_ioprio_personality(rt):
    path, cfg = rt.bundle()
    cfg["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7}
    cfg["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_IDLE", "priority": 4}
    cfg["linux"]["personality"] = {"domain": "LINUX32"}
    # /proc/self/stat: field 19 is nice, 41 the policy (3 = SCHED_BATCH)
    cfg["process"]["args"] = ["sh", "-c", "cut -d' ' -f19,41 /proc/self/stat; uname -m; ionice"]
    out = run_ok(rt, path, cfg).split("\n")
    assert out[0] == "7 3", out
    assert out[1] in ("i686", "i386", "armv8l", "armv7l"), out
    assert "idle" in out[2], out


def test_lsm_without_host_support_is_an_error(rt):
    if os.path.exists("/sys/fs/selinux/enforce"):
        pytest.skip("this host has SELinux")
    path, cfg = rt.bundle()
    cfg["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0"
    rt.write(path, cfg)
    res = rt.run(["create", "--bundle", str(path), rt.new_id()])
    assert res.returncode != 0, describe(res)
    if IS_KRUNC:
        assert "process.selinuxLabel" in res.stderr and "SELinux is not enabled" in res.stderr, describe(res)
    assert rt.leftovers() == []


@krunc_only
def test_apparmor_without_host_support_is_an_error(rt):
    try:
        enabled = Path("/sys/module/apparmor/parameters/enabled").read_text().startswith("Y")
    except OSError:
        enabled = False
    if enabled:
        pytest.skip("this host has AppArmor")
    path, cfg = rt.bundle()
    cfg["process"]["apparmorProfile"] = "krunc-test"
    rt.write(path, cfg)
    res = rt.run(["create", "--bundle", str(path), rt.new_id()])
    assert res.returncode != 0 and "AppArmor is not enabled on this host" in res.stderr, describe(res)
    assert rt.leftovers() == []


# ---------------------------------------------------------------------------
# seccomp


def deny_mkdir(errno_ret=None, action="SCMP_ACT_ERRNO"):
    rule = {"names": ["mkdir", "mkdirat"], "action": action}
    if errno_ret is not None:
        rule["errnoRet"] = errno_ret
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [rule]}


@pytest.mark.parametrize("nnp", [True, False])
def test_seccomp_errno(rt, nnp):
    path, cfg = rt.bundle()
    cfg["process"]["noNewPrivileges"] = nnp
    cfg["linux"]["seccomp"] = deny_mkdir()
    cfg["process"]["args"] = ["sh", "-c", STATUS_SCRIPT + "; mkdir /tmp/d; echo mkdir=$?; touch /tmp/f && echo touched"]
    res = rt.run_container(path, cfg)
    assert res.returncode == 0, describe(res)
    st = status_fields(res.stdout)
    assert st["Seccomp"] == 2 and st["Seccomp_filters"] >= 1, st
    assert "mkdir=1" in res.stdout and "touched" in res.stdout, describe(res)
    assert "Operation not permitted" in res.stderr, describe(res)


def test_seccomp_errno_ret_and_conditions(rt):
    path, cfg = rt.bundle()
    # chmod to a mode without group/other bits ((mode & 077) == 0) is refused with EXDEV
    masked = {"value": 0o077, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
    cfg["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV, "args": [dict(masked, index=1)]},
            {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV,
             "args": [dict(masked, index=2)]},
            {"names": ["no_such_syscall_at_all"], "action": "SCMP_ACT_KILL"},
        ],
    }
    cfg["process"]["args"] = ["sh", "-c", "mkdir /tmp/d; echo mkdir=$?; touch /tmp/a /tmp/b; "
                              "chmod 700 /tmp/a; echo a=$?; chmod 755 /tmp/b; echo b=$?; ls -l /tmp/b"]
    res = rt.run_container(path, cfg)
    assert res.returncode == 0, describe(res)
    assert "mkdir=1" in res.stdout and "Function not implemented" in res.stderr, describe(res)
    assert "a=1" in res.stdout and "Invalid cross-device link" in res.stderr, describe(res)
    assert "b=0" in res.stdout and "-rwxr-xr-x" in res.stdout, describe(res)


def test_seccomp_default_errno_allow_list(rt):
    """An allow list: everything not listed fails with defaultErrnoRet."""
    names = []
    with open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h") as f:
        for line in f:
            if line.startswith("#define __NR_"):
                n = line.split()[1][len("__NR_"):]
                if n not in ("mkdir", "mkdirat"):
                    names.append(n)
    path, cfg = rt.bundle()
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.EXDEV,
                               "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]}
    cfg["process"]["args"] = ["sh", "-c", "mkdir /tmp/d; echo rc=$?"]
    res = rt.run_container(path, cfg)
    assert res.returncode == 0, describe(res)
    assert "rc=1" in res.stdout and "Invalid cross-device link" in res.stderr, describe(res)


PROBE = os.path.join(os.environ.get("KRUNC_BUILD", str(Path(__file__).resolve().parents[2] / "build")), "tests",
                     "helpers", "syscall-probe")


def unistd_64():
    """{name: number} of this machine's x86_64 syscalls."""
    out = {}
    with open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "#define" and parts[1].startswith("__NR_"):
                out[parts[1][len("__NR_"):]] = int(parts[2])
    return out


@pytest.mark.parametrize("default", ["SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS"])
def test_seccomp_newer_syscalls_get_enosys(rt, default):
    """A profile cannot name a syscall newer than itself; such a syscall fails with ENOSYS,
    which glibc takes as "fall back to the older call", not with the default action. What
    the profile could have named (a number up to its largest) still gets the default."""
    table = unistd_64()
    top = table["clone3"]                   # the newest syscall this profile "knows"
    allowed = [n for n, nr in table.items() if nr <= top and n != "getpriority"]
    newer = table["faccessat2"]             # exists in the running kernel, after clone3
    assert newer > top
    path, cfg = rt.bundle()
    shutil.copy2(PROBE, path / "rootfs" / "bin" / "probe")
    cfg["linux"]["seccomp"] = {"defaultAction": default,
                               "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                               "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]}
    probes = [table["getppid"], newer, 1000]
    if default == "SCMP_ACT_ERRNO":
        probes.append(table["getpriority"])     # unlisted, yet older than clone3
    cfg["process"]["args"] = ["/bin/probe"] + [str(n) for n in probes]
    res = rt.run_container(path, cfg)
    assert res.returncode == 0, describe(res)
    got = dict(line.split() for line in res.stdout.splitlines())
    assert got[str(table["getppid"])] == "ok", got
    assert got[str(newer)] == str(errno.ENOSYS), got
    assert got["1000"] == str(errno.ENOSYS), got
    if default == "SCMP_ACT_ERRNO":
        assert got[str(table["getpriority"])] == str(errno.EPERM), got


def test_seccomp_newer_syscalls_pass_an_allowing_default(rt):
    """With an allowing default action a newer syscall reaches the kernel as before."""
    table = unistd_64()
    path, cfg = rt.bundle()
    shutil.copy2(PROBE, path / "rootfs" / "bin" / "probe")
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                               "syscalls": [{"names": ["getpriority"], "action": "SCMP_ACT_ERRNO"}]}
    cfg["process"]["args"] = ["/bin/probe", str(table["getpriority"]), str(table["faccessat2"])]
    res = rt.run_container(path, cfg)
    assert res.returncode == 0, describe(res)
    got = dict(line.split() for line in res.stdout.splitlines())
    assert got[str(table["getpriority"])] == str(errno.EPERM), got
    assert got[str(table["faccessat2"])] == str(errno.EFAULT), got     # the kernel's answer to a NULL path


def test_seccomp_kill_process(rt):
    path, cfg = rt.bundle()
    cfg["linux"]["seccomp"] = deny_mkdir(action="SCMP_ACT_KILL_PROCESS")
    cfg["process"]["args"] = ["mkdir", "/tmp/d"]
    res = rt.run_container(path, cfg)
    assert res.returncode == 128 + signal.SIGSYS, describe(res)


@krunc_only
@pytest.mark.parametrize("change,text", [
    (lambda s: s.update(defaultAction="SCMP_ACT_PERHAPS"),
     'linux.seccomp.defaultAction: unknown seccomp action "SCMP_ACT_PERHAPS"'),
    (lambda s: s["syscalls"][0].update(action="SCMP_ACT_DENY"),
     'linux.seccomp.syscalls[0].action: unknown seccomp action "SCMP_ACT_DENY"'),
    (lambda s: s["syscalls"][0].update(args=[{"index": 0, "value": 1, "op": "SCMP_CMP_ROUGHLY"}]),
     'linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator "SCMP_CMP_ROUGHLY"'),
    (lambda s: s["architectures"].append("SCMP_ARCH_PDP11"),
     'linux.seccomp.architectures[3]: unknown architecture "SCMP_ARCH_PDP11"'),
    (lambda s: s.update(flags=["SECCOMP_FILTER_FLAG_NOPE"]),
     'linux.seccomp.flags[0]: unknown seccomp flag "SECCOMP_FILTER_FLAG_NOPE"'),
    (lambda s: s["syscalls"][0].update(action="SCMP_ACT_ALLOW", errnoRet=3),
     "linux.seccomp.syscalls[0].errnoRet: SCMP_ACT_ALLOW takes no errno"),
])
def test_seccomp_bad_input(rt, change, text):
    path, cfg = rt.bundle()
    cfg["linux"]["seccomp"] = deny_mkdir()
    change(cfg["linux"]["seccomp"])
    rt.write(path, cfg)
    res = rt.run(["create", "--bundle", str(path), rt.new_id()])
    assert res.returncode != 0 and text in res.stderr, describe(res)
    assert rt.leftovers() == []


# -- the notify listener ------------------------------------------------------

SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101


class SeccompNotif(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("pid", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("nr", ctypes.c_int32), ("arch", ctypes.c_uint32), ("ip", ctypes.c_uint64),
                ("args", ctypes.c_uint64 * 6)]


class SeccompNotifResp(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("val", ctypes.c_int64), ("error", ctypes.c_int32),
                ("flags", ctypes.c_uint32)]


class Listener(threading.Thread):
    """Accepts one connection, takes the state and the notify fd, then answers
    every notification with -error until the fd reports the filter gone."""

    def __init__(self, path, error):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(1)
        self.error = error
        self.state = None
        self.fds = []
        self.syscalls = []
        self.eof_after_message = None
        self.failure = None

    def run(self):
        try:
            self.sock.settimeout(TIMEOUT)
            conn, _ = self.sock.accept()
            conn.settimeout(TIMEOUT)
            data, anc, _, _ = conn.recvmsg(1 << 16, socket.CMSG_SPACE(4 * 4))
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(payload[:len(payload) - len(payload) % 4])
                    self.fds.extend(fds)
            # the state may come in several sends; it is whole once it parses
            while True:
                try:
                    self.state = json.loads(data)
                    break
                except ValueError:
                    chunk = conn.recv(1 << 16)
                    if not chunk:
                        raise
                    data += chunk
            nfd = self.fds[0]
            self.eof_after_message = False
            watch = [nfd, conn]
            while True:
                r, _, _ = select.select(watch, [], [], TIMEOUT)
                if not r:
                    break
                if conn in r:
                    # the runtime must close the connection after the one state
                    self.eof_after_message = conn.recv(1) == b""
                    watch.remove(conn)
                    if nfd not in r:
                        continue
                req = SeccompNotif()
                try:
                    fcntl.ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, req)
                except OSError:
                    break       # the container is gone
                self.syscalls.append(req.nr)
                resp = SeccompNotifResp(id=req.id, val=0, error=-self.error, flags=0)
                try:
                    fcntl.ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, resp)
                except OSError:
                    pass
            conn.close()
        except Exception as e:  # reported by the test
            self.failure = e
        finally:
            for fd in self.fds:
                os.close(fd)
            self.sock.close()


@pytest.mark.parametrize("nnp", [True, False])
def test_seccomp_notify_listener(rt, tmp_path, nnp):
    sock_path = tmp_path / "agent.sock"
    listener = Listener(sock_path, errno.ENOMEDIUM)
    listener.start()
    path, cfg = rt.bundle()
    cfg["process"]["noNewPrivileges"] = nnp
    cfg["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": str(sock_path),
        "listenerMetadata": "agent-meta",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
    }
    cfg["annotations"] = {"org.example.k": "v"}
    cfg["process"]["args"] = ["sh", "-c", "mkdir /tmp/d; echo rc=$?; touch /tmp/f && echo touched"]
    cid = rt.new_id()
    rt.write(path, cfg)
    res = rt.run(["run", "--bundle", str(path), cid])
    listener.join(TIMEOUT)
    assert listener.failure is None, listener.failure
    assert res.returncode == 0, describe(res)
    # the listener's answer is what mkdir got
    assert "rc=1" in res.stdout and "No medium found" in res.stderr, describe(res)
    assert "touched" in res.stdout
    st = listener.state
    assert st["fds"] == ["seccompFd"] and len(listener.fds) == 1, st
    assert st["metadata"] == "agent-meta"
    assert st["ociVersion"].startswith("1.")
    assert st["state"]["id"] == cid
    assert st["state"]["annotations"] == {"org.example.k": "v"}
    assert isinstance(st["pid"], int) and st["pid"] == st["state"]["pid"] and st["pid"] > 1
    if IS_KRUNC:    # runc 1.1 keeps the connection open
        assert listener.eof_after_message, "the runtime must close the connection after the state"
    assert listener.syscalls and set(listener.syscalls) <= {83, 258}, listener.syscalls   # mkdir, mkdirat


@krunc_only
def test_seccomp_notify_listener_unreachable(rt, tmp_path):
    path, cfg = rt.bundle()
    cfg["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": str(tmp_path / "nobody.sock"),
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    rt.write(path, cfg)
    res = rt.run(["create", "--bundle", str(path), rt.new_id()])
    assert res.returncode != 0 and "linux.seccomp.listenerPath" in res.stderr, describe(res)
    assert rt.leftovers() == []


# ---------------------------------------------------------------------------
# terminals


def recv_master(server):
    server.settimeout(TIMEOUT)
    conn, _ = server.accept()
    conn.settimeout(TIMEOUT)
    data, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4 * 4))
    conn.close()
    fds = array.array("i")
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % 4])
    assert len(fds) == 1, (data, anc)
    return data, fds[0]


def read_until(fd, needle, timeout=TIMEOUT):
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no %r in %r" % (needle, out))
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


def test_console_socket(rt, tmp_path):
    sock_path = tmp_path / "console.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    server.listen(1)
    path, cfg = rt.bundle()
    cfg["process"]["terminal"] = True
    cfg["process"]["consoleSize"] = {"height": 33, "width": 111}
    cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
    cfg["process"]["args"] = ["sh"]
    rt.write(path, cfg)
    cid = rt.new_id()
    got = {}
    t = threading.Thread(target=lambda: got.update(r=recv_master(server)), daemon=True)
    t.start()
    res = rt.run(["create", "--bundle", str(path), "--console-socket", str(sock_path), cid])
    assert res.returncode == 0, describe(res)
    t.join(TIMEOUT)
    payload, master = got["r"]
    try:
        assert payload == b"/dev/ptmx"
        assert os.isatty(master)
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(master, termios.TIOCGWINSZ, b"\0" * 8))
        assert (rows, cols) == (33, 111)
        assert rt.run(["start", cid]).returncode == 0
        os.write(master, b"tty; stty size; id -u; ls -ln /dev/console; echo DO$((1+1))NE\n")
        out = read_until(master, b"DO2NE\r\n", TIMEOUT).decode(errors="replace")
        assert "/dev/pts/0" in out and "33 111" in out, out
        assert "\r\n1000\r\n" in out, out
        # /dev/console is the pty slave (136 is the pts major), owned by the user
        console = [ln for ln in out.splitlines() if ln.startswith("c") and ln.endswith("/dev/console")]
        assert console and console[0].split()[2] == "1000" and "136," in console[0], out
        os.write(master, b"exit\n")
        deadline = time.monotonic() + TIMEOUT
        while json.loads(rt.run(["state", cid]).stdout)["status"] != "stopped":
            assert time.monotonic() < deadline, "the shell did not exit"
            time.sleep(0.05)
    finally:
        os.close(master)
        server.close()
    assert rt.run(["delete", cid]).returncode == 0


@pytest.mark.skipif(not IS_KRUNC, reason="krunc-specific: runc cannot reach a socket path longer than sun_path")
def test_console_socket_path_longer_than_sun_path(rt, tmp_path):
    deep = tmp_path / ("d" * 100) / ("e" * 100)
    deep.mkdir(parents=True)
    sock_path = deep / "console.sock"
    assert len(str(sock_path)) > 108
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    cwd = os.getcwd()
    os.chdir(deep)          # bind() takes the short relative name
    try:
        server.bind("console.sock")
    finally:
        os.chdir(cwd)
    server.listen(1)
    path, cfg = rt.bundle()
    cfg["process"]["terminal"] = True
    cfg["process"]["args"] = ["sh"]
    rt.write(path, cfg)
    cid = rt.new_id()
    got = {}
    t = threading.Thread(target=lambda: got.update(r=recv_master(server)), daemon=True)
    t.start()
    res = rt.run(["create", "--bundle", str(path), "--console-socket", str(sock_path), cid])
    try:
        assert res.returncode == 0, describe(res)
        t.join(TIMEOUT)
        payload, master = got["r"]
        assert payload == b"/dev/ptmx" and os.isatty(master)
        os.close(master)
    finally:
        server.close()
        rt.run(["delete", "--force", cid])


def test_console_socket_that_nobody_listens_on(rt, tmp_path):
    path, cfg = rt.bundle()
    cfg["process"]["terminal"] = True
    rt.write(path, cfg)
    res = rt.run(["create", "--bundle", str(path), "--console-socket", str(tmp_path / "none.sock"), rt.new_id()])
    assert res.returncode != 0, describe(res)
    if IS_KRUNC:
        assert "--console-socket" in res.stderr, describe(res)
    assert rt.leftovers() == []


def test_terminal_without_console_socket_detached_is_an_error(rt):
    path, cfg = rt.bundle()
    cfg["process"]["terminal"] = True
    rt.write(path, cfg)
    res = rt.run(["create", "--bundle", str(path), rt.new_id()])
    assert res.returncode != 0, describe(res)
    if IS_KRUNC:
        assert "console-socket" in res.stderr, describe(res)
    assert rt.leftovers() == []


@krunc_only
def test_foreground_run_with_a_real_pty(rt):
    """`krunc run` in a real terminal: raw mode, window size, typing into a shell."""
    path, cfg = rt.bundle()
    cfg["process"]["terminal"] = True
    cfg["process"]["args"] = ["sh"]
    rt.write(path, cfg)
    argv = [KRUNC, "--root", str(rt.root), "run", "--bundle", str(path), rt.new_id()]
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(KRUNC, argv)
        finally:
            os._exit(127)
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 41, 97, 0, 0))
        read_until(fd, b"# ")
        os.write(fd, b"tty; stty size; echo $((6*7))\n")
        out = read_until(fd, b"42\r\n").decode(errors="replace")
        assert "/dev/pts/0" in out and "41 97" in out, out
        # the window size follows the user's terminal (SIGWINCH)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 132, 0, 0))
        os.kill(pid, signal.SIGWINCH)
        deadline = time.monotonic() + TIMEOUT
        while True:
            os.write(fd, b"stty size\n")
            out = read_until(fd, b"# ").decode(errors="replace")
            if "50 132" in out:
                break
            assert time.monotonic() < deadline, out
            time.sleep(0.05)
        # raw mode outside: ^C reaches the container's shell, it does not kill krunc
        os.write(fd, b"sleep 100\n")
        time.sleep(0.2)
        os.write(fd, b"\x03")
        read_until(fd, b"# ")
        os.write(fd, b"exit 5\n")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 5
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    assert rt.leftovers() == []


@krunc_only
def test_foreground_run_with_a_terminal_and_piped_stdin(rt):
    """No tty around krunc: stdin is copied in, its EOF becomes the pty's EOF."""
    path, cfg = rt.bundle()
    cfg["process"]["terminal"] = True
    cfg["process"]["args"] = ["sh", "-c", "read line; echo got-$line; tty; cat; echo cat-done; exit 4"]
    rt.write(path, cfg)
    p = subprocess.run([KRUNC, "--root", str(rt.root), "run", "--bundle", str(path), rt.new_id()],
                       input=b"hello\nmore\n", capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 4, p
    assert b"got-hello" in p.stdout and b"/dev/pts/0" in p.stdout and b"cat-done" in p.stdout, p
