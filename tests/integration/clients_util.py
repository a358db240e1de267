"""Helpers for the client tests (podman, containerd): a busybox rootfs, the
image formats the clients import, and small wrappers that run a client with
private state and report a failing command with its stderr."""

import hashlib
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KRUNC = os.environ.get("KRUNC", str(REPO / "build" / "krunc"))
BUSYBOX = "/bin/busybox"
# below this machine's hard limits: root here lacks CAP_SYS_RESOURCE
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
COMMAND_TIMEOUT = 60


def busybox_rootfs(dest):
    """A minimal rootfs: a static busybox with a link for every applet."""
    dest = Path(dest)
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root", "run"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, dest / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    for a in applets:
        if a != "busybox":
            link = dest / "bin" / a
            if not link.is_symlink():
                link.symlink_to("busybox")
    (dest / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                         "nobody:x:65534:65534:nobody:/:/bin/sh\n")
    (dest / "etc" / "group").write_text("root:x:0:\nnobody:x:65534:\n")
    return dest


def _tar_filter(ti):
    # reproducible, root-owned entries whatever the build user
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    ti.mtime = 0
    return ti


def rootfs_tar_bytes(rootfs):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for entry in sorted(Path(rootfs).iterdir()):
            t.add(entry, arcname=entry.name, filter=_tar_filter)
    return buf.getvalue()


def _sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def oci_image_archive(rootfs, dest, name, env=("PATH=/bin",), cmd=("/bin/sh",)):
    """Write an OCI image layout (blobs, index.json, manifest, config) holding
    one uncompressed layer made from ``rootfs``, as a tar at ``dest``."""
    layer = rootfs_tar_bytes(rootfs)
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": list(env), "Cmd": list(cmd), "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [_sha(layer)]},
        "history": [{"created_by": "krunc tests: busybox-static rootfs"}],
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": _sha(layer), "size": len(layer)}],
    }, sort_keys=True).encode()
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": _sha(manifest), "size": len(manifest),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": name,
                            "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]},
        }],
    }, sort_keys=True).encode()
    files = {"oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
             "index.json": index}
    for blob in (layer, config, manifest):
        files["blobs/sha256/" + _sha(blob).split(":", 1)[1]] = blob
    with tarfile.open(dest, "w") as t:
        for d in ("blobs", "blobs/sha256"):
            ti = tarfile.TarInfo(d)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            t.addfile(ti)
        for path, data in files.items():
            ti = tarfile.TarInfo(path)
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    return dest


# ---------------------------------------------------------------------------
# running client commands


class Result:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    def describe(self):
        return "`%s` exited %d\n--- stdout:\n%s\n--- stderr:\n%s" % (
            " ".join(str(a) for a in self.argv), self.rc, self.out, self.err)


def run_cmd(argv, check=True, input=None, timeout=COMMAND_TIMEOUT, env=None):
    """Run a client command; with check, a non-zero exit fails the test with
    the command line and its stderr."""
    argv = [str(a) for a in argv]
    try:
        p = subprocess.run(argv, input=input, capture_output=True, text=True,
                           timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("`%s` did not finish in %ds\n--- stdout:\n%s\n--- stderr:\n%s" % (
            " ".join(argv), timeout, e.stdout, e.stderr))
    r = Result(argv, p.returncode, p.stdout, p.stderr)
    if check and p.returncode != 0:
        raise AssertionError("client command failed: " + r.describe())
    return r


def expect_rc(result, rc):
    assert result.rc == rc, "expected exit code %d: %s" % (rc, result.describe())
    return result


def run_in_pty(argv, steps=(), rows=24, cols=80, timeout=COMMAND_TIMEOUT, env=None):
    """Run argv on a fresh pty of the given size. ``steps`` is a list of
    (wait_for, send) byte pairs: once ``wait_for`` has appeared in the output,
    ``send`` is typed. Returns (all output, exit code)."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # child: the pty is our controlling terminal
        try:
            if env is not None:
                os.execvpe(argv[0], [str(a) for a in argv], env)
            os.execvp(argv[0], [str(a) for a in argv])
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    out = b""
    steps = list(steps)
    pos = 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if steps and steps[0][0] in out[pos:]:
                pos = out.index(steps[0][0], pos) + len(steps[0][0])
                os.write(fd, steps.pop(0)[1])
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    data = os.read(fd, 4096)
                except OSError:  # EIO: the child side is closed
                    break
                if not data:
                    break
                out += data
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("`%s` on a pty did not finish in %ds; output so far: %r"
                                 % (" ".join(map(str, argv)), timeout, out))
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    if steps:
        raise AssertionError("`%s` on a pty: never saw %r; output: %r"
                             % (" ".join(map(str, argv)), steps[0][0], out))
    return out, os.waitstatus_to_exitcode(status)


def wait_until(predicate, what, timeout=COMMAND_TIMEOUT, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


# ---------------------------------------------------------------------------
# clean-up


def mounts_under(path):
    """Mount points at or below ``path``, deepest first."""
    path = os.path.realpath(str(path))
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].encode().decode("unicode_escape")
            if mp == path or mp.startswith(path + "/"):
                found.append(mp)
    return sorted(found, key=len, reverse=True)


def unmount_all_under(path):
    for mp in mounts_under(path):
        subprocess.run(["umount", "-l", mp], capture_output=True)


def processes_mentioning(text):
    """Pids whose command line contains ``text`` (a private path of ours)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ")
        except OSError:
            continue
        if text.encode() in cmd:
            pids.append(int(d))
    return pids


def kill_and_wait(pids, timeout=10):
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for p in pids:
        while time.monotonic() < deadline and os.path.exists("/proc/%d" % p):
            try:
                with open("/proc/%d/stat" % p) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        break
            except OSError:
                break
            time.sleep(0.02)


def krunc_states_under(root, base):
    """Ids of the containers in krunc's state ``root`` whose bundle lies
    under ``base``."""
    found = []
    root, base = Path(root), str(base)
    if not root.is_dir():
        return found
    for d in sorted(root.iterdir()):
        try:
            bundle = json.loads((d / "state.json").read_text()).get("bundle", "")
        except (OSError, ValueError):
            continue
        if bundle == base or bundle.startswith(base + "/"):
            found.append(d.name)
    return found


def remove_empty_dirs(top):
    """rmdir every empty directory at and below ``top``, deepest first; a
    directory that is not empty (or a cgroup still in use) is left."""
    if not os.path.isdir(top):
        return
    for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


def remove_parent_cgroups(name):
    """The parent cgroup ``name`` (e.g. podman's libpod_parent) that the
    runtime makes for cgroupsPath and, as runc, leaves: remove it once empty."""
    if not os.path.isdir("/sys/fs/cgroup"):
        return
    for hier in os.listdir("/sys/fs/cgroup"):
        remove_empty_dirs(os.path.join("/sys/fs/cgroup", hier, name))


# ---------------------------------------------------------------------------
# cgroups, seen from the host


def cgroup_dir(pid, controller):
    """The host path of ``pid``'s cgroup for a v1 controller (or the v2
    unified hierarchy with controller "")."""
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller in ctrls.split(",") or (controller == "" and ctrls == ""):
                base = "/sys/fs/cgroup/unified" if controller == "" else "/sys/fs/cgroup/" + controller
                if not os.path.isdir(base) and controller == "":
                    base = "/sys/fs/cgroup"
                return base + path
    raise AssertionError("pid %d has no %r cgroup" % (pid, controller))


def read_text(path):
    with open(path) as f:
        return f.read().strip()


def cap_mask(names):
    bits = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
            "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
            "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13, "CAP_SYS_CHROOT": 18,
            "CAP_MKNOD": 27, "CAP_AUDIT_WRITE": 29, "CAP_SETFCAP": 31}
    m = 0
    for n in names:
        m |= 1 << bits[n]
    return "%016x" % m


# ---------------------------------------------------------------------------
# the krun executor, against the libkrun test double


KRUN_ANNOTATION = "run.oci.handler=krun"


def fake_libkrun():
    """The libkrun test double built with krunc, or None when it has not
    landed yet (tests/fake-libkrun)."""
    build = Path(os.environ.get("KRUNC_BUILD", str(Path(KRUNC).resolve().parent)))
    cand = build / "tests" / "fake-libkrun" / "default" / "libkrun.so.1"
    return cand if cand.is_file() else None


def is_vmm(comm):
    """Whether a process name is a libkrun VMM's: libkrun (and its double)
    names the process "VM:<hostname>", or "libkrun VM" without a hostname."""
    return comm.startswith("VM:") or comm == "libkrun VM"


def require_fake_libkrun():
    lib = fake_libkrun()
    if lib is None:
        import pytest
        pytest.fail("krun executor case: the libkrun test double (tests/fake-libkrun) is not built; "
                    "this case runs once the krun executor and its double land on main")
    return lib


class kvm_device:
    """Context manager: make sure /dev/kvm exists while the krun cases run.
    The double never runs a VM, but krunc checks for the device before it
    loads libkrun; a node made here (10:232, as the kvm module registers it)
    is removed again on exit, so the host is left as it was."""

    def __enter__(self):
        self.made = False
        if not os.path.exists("/dev/kvm"):
            os.mknod("/dev/kvm", 0o660 | stat.S_IFCHR, os.makedev(10, 232))
            self.made = True
        return self

    def __exit__(self, *exc):
        if self.made:
            try:
                os.unlink("/dev/kvm")
            except FileNotFoundError:
                pass


# ---------------------------------------------------------------------------
# podman


# the capabilities the tests' containers.conf gives a container (Debian's list)
PODMAN_DEFAULT_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
                       "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
                       "CAP_SETUID", "CAP_SYS_CHROOT"]


class Podman:
    """podman with private storage and state, driving ``runtime`` (krunc).
    krunc keeps its state in its default --root: podman does not pass
    --runtime-flag values to the `delete` of its clean-up process."""

    def __init__(self, base, runtime=KRUNC):
        self.base = Path(base)
        self.runtime = runtime
        self.krunc_root = Path("/run/runc" if os.path.basename(str(runtime)) == "runc" else "/run/krunc")
        self.global_args = [
            "podman",
            "--root", self.base / "storage",
            "--runroot", self.base / "run",
            "--tmpdir", self.base / "tmp",
            "--cgroup-manager", "cgroupfs",
            "--events-backend", "file",
            "--storage-driver", "vfs",
            "--runtime", runtime,
        ]
        self.env = dict(os.environ)
        # runtime_supports_json: podman then passes --log-format=json --log and
        # reads krunc's errors from that file, as it does for runc and crun
        conf = self.base / "containers.conf"
        conf.write_text('[containers]\ndefault_capabilities = [%s]\n'
                        '[engine]\nruntime_supports_json = ["crun", "runc", "krun", "krunc", "%s"]\n'
                        % (", ".join('"%s"' % c for c in PODMAN_DEFAULT_CAPS), runtime))
        self.env["CONTAINERS_CONF"] = str(conf)
        self.env.pop("CONTAINER_HOST", None)

    def argv(self, *args, runtime_flags=(), runtime=None):
        extra = []
        for f in runtime_flags:
            extra += ["--runtime-flag", f]
        g = [str(a) for a in self.global_args]
        if runtime:
            g[g.index("--runtime") + 1] = str(runtime)
        return g + extra + [str(a) for a in args]

    def __call__(self, *args, check=True, input=None, runtime_flags=(), timeout=COMMAND_TIMEOUT,
                 runtime=None):
        return run_cmd(self.argv(*args, runtime_flags=runtime_flags, runtime=runtime), check=check,
                       input=input, timeout=timeout, env=self.env)

    def krunc_leftovers(self):
        """Containers in krunc's root whose bundle is in our private storage."""
        return krunc_states_under(self.krunc_root, self.base)

    def cleanup(self):
        """Remove every container and image; returns the krunc containers
        that podman left behind (and removes those too)."""
        self("rm", "--all", "--force", "--time", "0", check=False)
        left = self.krunc_leftovers()
        for cid in left:
            run_cmd([self.runtime, "--root", self.krunc_root, "delete", "--force", cid], check=False)
        self("rmi", "--all", "--force", check=False)
        kill_and_wait(processes_mentioning(str(self.base)))
        unmount_all_under(self.base)
        # podman's cgroupfs parents: libpod_parent/<container> and libpod_parent/conmon
        remove_parent_cgroups("libpod_parent")
        return left


# ---------------------------------------------------------------------------
# containerd


class Containerd:
    """A containerd of our own: private socket, root and state directories
    under ``base``, started here and stopped by ``stop``. ``extra_config`` is
    TOML appended to the config (the CRI plugin is disabled unless it says
    otherwise)."""

    def __init__(self, base, runtime=KRUNC, extra_config="", cri=False, env=None):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.runtime = runtime
        self.address = str(self.base / "containerd.sock")
        self.runc_root = self.base / "runtime-root"
        self.namespace = "krunc-test"
        self.config = self.base / "config.toml"
        disabled = [] if cri else ['"io.containerd.grpc.v1.cri"']
        self.config.write_text(
            'version = 2\n'
            'root = "%s"\nstate = "%s"\n'
            'disabled_plugins = [%s]\n'
            '[grpc]\n  address = "%s"\n'
            '[ttrpc]\n  address = "%s.ttrpc"\n'
            '[debug]\n  level = "info"\n'
            '%s' % (self.base / "root", self.base / "state", ", ".join(disabled), self.address,
                    self.address, extra_config))
        self.log = self.base / "containerd.log"
        # containerd and ctr put shim sockets and fifos under /run/containerd
        # whatever the state directory says: remove what they leave there
        self.run_dir_existed = os.path.exists("/run/containerd")
        self.env = dict(env if env is not None else os.environ)
        self.proc = None

    def start(self):
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen(["containerd", "--config", str(self.config)],
                                         stdout=logf, stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=True)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("containerd exited with %d:\n%s" % (
                    self.proc.returncode, self.log.read_text()))
            return os.path.exists(self.address) and run_cmd(
                ["ctr", "--address", self.address, "version"], check=False).rc == 0
        wait_until(up, "containerd to serve on " + self.address)
        return self

    def ctr_argv(self, *args, namespace=None):
        return ["ctr", "--address", self.address, "--namespace", namespace or self.namespace] + \
            [str(a) for a in args]

    def ctr(self, *args, check=True, namespace=None, timeout=COMMAND_TIMEOUT, input=None):
        return run_cmd(self.ctr_argv(*args, namespace=namespace), check=check, timeout=timeout,
                       input=input)

    def runtime_leftovers(self):
        return sorted(p.name for p in (self.runc_root / self.namespace).iterdir()) \
            if (self.runc_root / self.namespace).is_dir() else []

    def stop(self):
        """Remove every task and container, stop containerd and its shims,
        and undo their mounts. Returns the runtime states that were left."""
        if self.proc and self.proc.poll() is None:
            for ns in self.ctr("namespaces", "ls", "--quiet", check=False).out.split():
                for cid in self.ctr("containers", "ls", "--quiet", namespace=ns, check=False).out.split():
                    self.ctr("tasks", "delete", "--force", cid, namespace=ns, check=False)
                    self.ctr("containers", "delete", cid, namespace=ns, check=False)
        left = self.runtime_leftovers()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # shims outlive containerd: they carry our socket path on their command line
        kill_and_wait(processes_mentioning(self.address))
        for cid in left:
            run_cmd([self.runtime, "--root", self.runc_root / self.namespace, "delete", "--force", cid],
                    check=False)
        unmount_all_under(self.base)
        if not self.run_dir_existed:
            remove_empty_dirs("/run/containerd")
        # the parent cgroup of cgroupsPath /<namespace>/<id>
        remove_parent_cgroups(self.namespace)
        return left


# ---------------------------------------------------------------------------
# plain bundles, for the command-line checks in test_client_compat.py


def make_bundle(dest, args, namespaces=("pid", "ipc", "uts", "mount", "network"), rootfs=None):
    """A bundle running ``args`` in a busybox rootfs (copied from ``rootfs``
    when given), with the listed namespaces and no terminal."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if rootfs:
        shutil.copytree(rootfs, dest / "rootfs", symlinks=True)
    else:
        busybox_rootfs(dest / "rootfs")
    # a /dev/null of the rootfs's own: the bundle mounts no /dev (sh opens it for `&`)
    null = dest / "rootfs" / "dev" / "null"
    if not null.exists():
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    config = {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": list(args),
                    "env": ["PATH=/bin"], "cwd": "/"},
        "root": {"path": "rootfs"},
        "hostname": "krunc-test" if "uts" in namespaces else None,
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {"namespaces": [{"type": n} for n in namespaces]},
    }
    if config["hostname"] is None:
        del config["hostname"]
    (dest / "config.json").write_text(json.dumps(config))
    return dest


def krunc_quiet(*args, root):
    """krunc create/run -d: its container inherits stdio, so give it none of
    our pipes (they would stay open as long as the container runs)."""
    import tempfile
    with tempfile.TemporaryFile(mode="w+") as errf:
        p = subprocess.run([KRUNC, "--root", str(root)] + [str(a) for a in args],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf,
                           timeout=COMMAND_TIMEOUT)
        errf.seek(0)
        assert p.returncode == 0, "`krunc %s` failed: %s" % (" ".join(map(str, args)), errf.read())
