#!/usr/bin/python3
"""krunc lifecycle benchmark: krunc against runc and crun, in one interleaved session.

Run as root:  /usr/bin/python3 bench/lifecycle.py [--krunc PATH] [-n N] [--fake-libkrun DIR]

See bench/README.md for what is measured and how.
"""

import argparse
import ctypes
import itertools
import json
import math
import os
import select
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
NS_ENV = "KRUNC_BENCH_PRIVATE_NS"
ENV_BASE = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
BUSYBOX = "/bin/busybox"
KVM_DEVICE = (10, 232)

RSS_TARGET_KIB = 2048
KRUN_DELTA_TARGET_MS = 2.0
INVOKE_TIMEOUT_S = 60
EXIT_TIMEOUT_S = 30

ALL_CASES = ("run", "run-limits", "lifecycle", "run-krun")
# Rows of the report, in order; "lifecycle" is timed as three rows.
ROWS = ("run", "run-limits", "create", "start", "delete")

MS_BIND = 4096
MS_REC = 16384
MNT_DETACH = 2
PR_SET_CHILD_SUBREAPER = 36

_libc = ctypes.CDLL(None, use_errno=True)


class BenchError(Exception):
    """The benchmark itself could not go on (setup, environment, reference runtime)."""


class StepFailed(Exception):
    """One runtime failed one step; that lane stops, the others go on."""


# --------------------------------------------------------------------------- system helpers

def sys_mount(source, target, fstype=None, flags=0, data=None):
    enc = lambda s: None if s is None else os.fsencode(s)
    if _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mount {source!r} on {target!r} ({fstype or 'bind'}): {os.strerror(e)}")


def sys_umount(target, flags=0):
    if _libc.umount2(os.fsencode(target), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"umount {target!r}: {os.strerror(e)}")


def _unescape(field):
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit() and len(field[i + 1:i + 4]) == 3:
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mountinfo():
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.rstrip("\n").split(" - ", 1)
            lf, rf = left.split(" "), right.split(" ")
            mounts.append({"mountpoint": _unescape(lf[4]), "optional": lf[6:],
                           "fstype": rf[0], "source": _unescape(rf[1]),
                           "super": rf[2].split(",") if len(rf) > 2 else []})
    return mounts


def first_line(path):
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30,
                             env=ENV_BASE)
        return (out.stdout.strip().splitlines() or ["?"])[0]
    except OSError as e:
        return f"? ({e.strerror})"


def reap_strays():
    """Reap orphans re-parented to us (we are a child subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def process_gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


def wait_exit(pid):
    """Wait until a started container's process has exited (we reap it if it is ours)."""
    deadline = time.monotonic() + EXIT_TIMEOUT_S
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return
        except ChildProcessError:
            if process_gone(pid):
                return
        if time.monotonic() > deadline:
            raise StepFailed(f"container process {pid} still running after {EXIT_TIMEOUT_S} s")
        time.sleep(0.0005)


def p90(values):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


# --------------------------------------------------------------------------- private namespace

def enter_private_namespace():
    """Re-execute this script under `unshare -m --propagation private` unless already there.

    unshare execs us in place, so our pid is unchanged: the marker holds our pid, and an
    inherited stale marker cannot be mistaken for ours."""
    if os.environ.get(NS_ENV) == str(os.getpid()):
        del os.environ[NS_ENV]
        root = next(m for m in reversed(mountinfo()) if m["mountpoint"] == "/")
        if any(o.startswith("shared:") for o in root["optional"]):
            raise BenchError("/ is still a shared mount inside the private namespace")
        return
    os.environ[NS_ENV] = str(os.getpid())
    unshare = shutil.which("unshare", path="/usr/bin:/bin") or "/usr/bin/unshare"
    os.execv(unshare, [unshare, "-m", "--propagation", "private", "--",
                       sys.executable, os.path.abspath(__file__)] + sys.argv[1:])


def set_up_cgroups():
    """Make every runtime see the same cgroup layout: on a hybrid host, unmount the cgroup2
    mounts below /sys/fs/cgroup (in this private namespace only), leaving plain v1."""
    mounts = mountinfo()
    top = [m for m in mounts if m["mountpoint"] == "/sys/fs/cgroup"]
    if top and top[-1]["fstype"] == "cgroup2":
        return "v2 (unified)"
    removed = []
    for m in reversed(mounts):
        if m["fstype"] == "cgroup2" and m["mountpoint"].startswith("/sys/fs/cgroup/"):
            sys_umount(m["mountpoint"])
            removed.append(m["mountpoint"])
    if removed:
        return f"v1 (hybrid host; {', '.join(removed)} unmounted in the private mount namespace)"
    return "v1"


def cgroup_mounts():
    return [m["mountpoint"] for m in mountinfo() if m["fstype"] in ("cgroup", "cgroup2")]


def controller_file(controller, v1_name, v2_name):
    """Host path of a controller's file, relative to a cgroup: (mountpoint, file name)."""
    for m in mountinfo():
        if m["fstype"] == "cgroup" and controller in m["super"]:
            return m["mountpoint"], v1_name
    for m in mountinfo():
        if m["fstype"] == "cgroup2" and m["mountpoint"] == "/sys/fs/cgroup":
            return m["mountpoint"], v2_name
    return None, None


def provide_kvm_node(tmp, force):
    """Give this namespace a /dev/kvm (c 10:232) without touching the host's /dev.

    /dev becomes an overlay: lower is the host's /dev (read through a bind mount), upper a
    tmpfs directory of ours, so the node is created in the upper layer only. The mounts
    below /dev (pts, shm, mqueue...) are hidden by the overlay and bound back on top."""
    if os.path.exists("/dev/kvm") and not force:
        return "host /dev/kvm"
    base = os.path.join(tmp, "dev-overlay")
    lower, upper, work = (os.path.join(base, d) for d in ("lower", "upper", "work"))
    for d in (lower, upper, work):
        os.makedirs(d)
    below = []
    for m in mountinfo():
        if m["mountpoint"].startswith("/dev/"):
            name = m["mountpoint"][len("/dev/"):].split("/", 1)[0]
            if name not in below:
                below.append(name)
    sys_mount("/dev", lower, flags=MS_BIND | MS_REC)
    sys_mount("overlay", "/dev", "overlay", 0,
              f"lowerdir={lower},upperdir={upper},workdir={work}")
    for name in below:
        sys_mount(os.path.join(lower, name), os.path.join("/dev", name), flags=MS_BIND | MS_REC)
    if os.path.lexists("/dev/kvm"):
        os.unlink("/dev/kvm")  # a whiteout in the upper layer; the host's node stays
    os.mknod("/dev/kvm", stat.S_IFCHR | 0o600, os.makedev(*KVM_DEVICE))
    return "c 10:232 in a private overlay on /dev"


# --------------------------------------------------------------------------- bundles

def make_rootfs(path):
    bindir = os.path.join(path, "bin")
    os.makedirs(bindir)
    shutil.copy2(BUSYBOX, os.path.join(bindir, "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for applet in applets:
        if applet != "busybox" and "/" not in applet:
            os.symlink("busybox", os.path.join(bindir, applet))
    for d in ("proc", "sys", "dev", "tmp", "etc", "root"):
        os.makedirs(os.path.join(path, d), exist_ok=True)


CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT",
        "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"]


def base_config():
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/true"],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
            "cwd": "/",
            "capabilities": {k: list(CAPS) for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                            "/proc/scsi", "/sys/firmware"],
            "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }


def case_config(kind):
    cfg = base_config()
    if kind == "limits":
        cfg["linux"]["resources"] = {"memory": {"limit": 256 * 1024 * 1024},
                                     "pids": {"limit": 1024}}
    elif kind == "krun":
        cfg["annotations"] = {"run.oci.handler": "krun"}
    return cfg


class Bundle:
    def __init__(self, path, kind, cgroup_parent):
        self.path, self.kind, self.cgroup_parent = path, kind, cgroup_parent
        self.config = case_config(kind)
        make_rootfs(os.path.join(path, "rootfs"))

    def prepare(self, cid, args=("/bin/true",)):
        """Write config.json for one container: its own cgroup under our parent."""
        self.config["linux"]["cgroupsPath"] = f"{self.cgroup_parent}/{cid}"
        self.config["process"]["args"] = list(args)
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config, f, indent=1)


# --------------------------------------------------------------------------- runtimes

class Runtime:
    def __init__(self, label, path, tmp):
        self.label, self.path = label, path
        self.root = os.path.join(tmp, "root-" + label)
        os.makedirs(self.root)
        self.version = first_line(path)

    def command(self, *args):
        return [self.path, "--root", self.root] + list(args)


class Lane:
    """One column of the session: a runtime, and the environment it runs with."""

    def __init__(self, key, runtime, env, bundle_kind):
        self.key, self.runtime, self.env, self.bundle_kind = key, runtime, env, bundle_kind
        self.failed = {}  # step -> message


class Session:
    def __init__(self, args, tmp):
        self.args, self.tmp = args, tmp
        self.seq = 0
        self.samples = {}   # (row, lane key) -> {"ms": [...], "rss": [...]}
        self.errfile = os.path.join(tmp, "stderr.log")
        self.helper = os.path.join(tmp, "spawn")
        self.cgroup_parent = f"/krunc-bench.{os.getpid()}"
        self.warnings = []
        self.kvm = None

    # -- measurement -------------------------------------------------------------------

    def build_helper(self):
        cc = self.args.cc
        src = os.path.join(HERE, "spawn.c")
        base = [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", self.helper, src]
        for extra in (["-static"], []):
            out = subprocess.run(base + extra, capture_output=True, text=True)
            if out.returncode == 0:
                return "static" if extra else "dynamic"
        raise BenchError(f"cannot build {src} with {cc}:\n{out.stderr}")

    def invoke(self, argv, env):
        """Run argv under the spawn helper: (wall ms, ru_maxrss KiB, exit code, stderr)."""
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            with open(self.errfile, "w+b") as err:
                proc = subprocess.Popen([self.helper, str(w)] + argv, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=err, pass_fds=(w,),
                                        env=env, process_group=0)
                os.close(w)
                w = -1
                data = b""
                deadline = time.monotonic() + INVOKE_TIMEOUT_S
                try:
                    while True:
                        left = deadline - time.monotonic()
                        if left <= 0 or not select.select([r], [], [], left)[0]:
                            raise StepFailed(f"{' '.join(argv)}: no answer after "
                                             f"{INVOKE_TIMEOUT_S} s")
                        chunk = os.read(r, 256)
                        if not chunk:
                            break
                        data += chunk
                except BaseException:  # timeout, or interrupted: stop the runtime too
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    raise
                helper_status = proc.wait()
                err.seek(0)
                errtext = err.read().decode(errors="replace").strip()
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)
        if helper_status != 0 or not data:
            raise BenchError(f"spawn helper failed ({helper_status}): {errtext}")
        wall_ns, maxrss, status = (int(x) for x in data.split())
        return wall_ns / 1e6, maxrss, os.waitstatus_to_exitcode(status), errtext

    def timed(self, lane, args):
        """One measured runtime command: (wall ms, ru_maxrss KiB); StepFailed if it fails."""
        ms, rss, code, errtext = self.invoke(lane.runtime.command(*args), lane.env)
        if code != 0:
            detail = errtext.splitlines()[-1] if errtext else "no message"
            raise StepFailed(f"`{' '.join(args)}` exited {code}: {detail}")
        return ms, rss

    def record(self, row, lane, sample):
        s = self.samples.setdefault((row, lane.key), {"ms": [], "rss": []})
        s["ms"].append(sample[0])
        s["rss"].append(sample[1])

    def untimed(self, lane, *args, check=True):
        """Run a runtime command outside the measurements. Its output goes to files, not
        pipes: after `create`, the container holds the runtime's stdio open."""
        paths = [os.path.join(self.tmp, n) for n in ("untimed.out", "untimed.err")]
        with open(paths[0], "w+") as out, open(paths[1], "w+") as err:
            try:
                proc = subprocess.run(lane.runtime.command(*args), stdin=subprocess.DEVNULL,
                                      stdout=out, stderr=err, env=lane.env,
                                      timeout=INVOKE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise StepFailed(f"`{' '.join(args)}`: no answer after {INVOKE_TIMEOUT_S} s")
            out.seek(0)
            err.seek(0)
            result = subprocess.CompletedProcess(proc.args, proc.returncode, out.read(),
                                                 err.read())
        if check and result.returncode != 0:
            raise StepFailed(f"`{' '.join(args)}` exited {result.returncode}: "
                             f"{result.stderr.strip()}")
        return result

    def floor(self):
        runs = [self.invoke(["-"], ENV_BASE) for _ in range(20)]
        return statistics.median(r[0] for r in runs), max(r[1] for r in runs)

    # -- steps ---------------------------------------------------------------------------

    def new_id(self, lane, step):
        self.seq += 1
        return f"{lane.key}-{step}-{self.seq}"

    def step_run(self, lane, step, bundle, record):
        cid = self.new_id(lane, step)
        bundle.prepare(cid)
        row = "run-limits" if step == "run-limits" else ("run-krun" if lane.bundle_kind == "krun"
                                                         else "run")
        try:
            sample = self.timed(lane, ["run", "-b", bundle.path, cid])
            if record:
                self.record(row, lane, sample)
        finally:
            if os.path.exists(os.path.join(lane.runtime.root, cid)):
                self.untimed(lane, "delete", "-f", cid, check=False)
                self.warn(f"{lane.key}: `run` left state for {cid} behind")

    def step_lifecycle(self, lane, bundle, record):
        cid = self.new_id(lane, "lc")
        bundle.prepare(cid)
        created = False
        try:
            create = self.timed(lane, ["create", "-b", bundle.path, cid])
            created = True
            state = json.loads(self.untimed(lane, "state", cid).stdout)
            if state.get("status") != "created" or not state.get("pid"):
                raise StepFailed(f"after create, state is {state.get('status')!r}")
            start = self.timed(lane, ["start", cid])
            wait_exit(state["pid"])
            delete = self.timed(lane, ["delete", cid])
            created = False
            if record:  # all three or none, so the rows stay paired
                for row, sample in (("create", create), ("start", start), ("delete", delete)):
                    self.record(row, lane, sample)
        finally:
            if created:
                self.untimed(lane, "delete", "-f", cid, check=False)

    def check_lane(self, lane, bundles, limits):
        """Before timing: does this runtime really run the container, and apply the limits?

        A failed check stops the lane for the steps it concerns, with the reason."""
        steps = ("run", "run-limits", "lifecycle")
        try:
            self.check_output(lane, bundles["default"], "bench")
        except StepFailed as e:
            for step in steps:
                lane.failed[step] = f"check: {e}"
            return
        if limits:
            try:
                self.check_limits(lane, bundles["limits"])
            except StepFailed as e:
                lane.failed["run-limits"] = f"check: {e}"

    def check_output(self, lane, bundle, hostname):
        cid = self.new_id(lane, "check")
        bundle.prepare(cid, ["/bin/sh", "-c", "echo hello from $(hostname)"])
        try:
            out = self.untimed(lane, "run", "-b", bundle.path, cid)
        finally:
            if os.path.exists(os.path.join(lane.runtime.root, cid)):
                self.untimed(lane, "delete", "-f", cid, check=False)
            reap_strays()
        want = "hello from " + (hostname or "")
        if not out.stdout.strip().startswith(want):
            raise StepFailed(f"container printed {out.stdout.strip()!r}, expected {want!r}")

    def check_limits(self, lane, bundle):
        cid = self.new_id(lane, "check")
        bundle.prepare(cid)
        path = f"{self.cgroup_parent}/{cid}"
        try:
            self.untimed(lane, "create", "-b", bundle.path, cid)
            pid = json.loads(self.untimed(lane, "state", cid).stdout).get("pid")
            with open(f"/proc/{pid}/cgroup") as f:
                lines = f.read().splitlines()
            res = bundle.config["linux"]["resources"]
            for ctl, v1, v2, want in (("memory", "memory.limit_in_bytes", "memory.max",
                                       res["memory"]["limit"]),
                                      ("pids", "pids.max", "pids.max", res["pids"]["limit"])):
                mnt, name = controller_file(ctl, v1, v2)
                if mnt is None:
                    raise StepFailed(f"no {ctl} controller mounted")
                ours = [ln for ln in lines
                        if ln.split(":")[1] in (ctl, "") and ln.split(":", 2)[2] == path]
                if not ours:
                    raise StepFailed(f"container process not in {ctl} cgroup {path}: {lines}")
                with open(os.path.join(mnt + path, name)) as f:
                    got = f.read().strip()
                if got != str(want):
                    raise StepFailed(f"{mnt + path}/{name} is {got}, expected {want}")
        except OSError as e:
            raise StepFailed(f"limits check: {e}")
        finally:
            self.untimed(lane, "delete", "-f", cid, check=False)
            reap_strays()

    def warn(self, msg):
        if msg not in self.warnings:
            self.warnings.append(msg)

    # -- the session ---------------------------------------------------------------------

    def run_lane_step(self, step, lane, bundles, record):
        if step in lane.failed:
            return
        try:
            if step == "lifecycle":
                self.step_lifecycle(lane, bundles["default"], record)
            else:
                kind = "limits" if step == "run-limits" else lane.bundle_kind
                self.step_run(lane, step, bundles[kind], record)
        except StepFailed as e:
            lane.failed[step] = str(e)
        finally:
            reap_strays()

    def run(self, steps, bundles):
        n, warm = self.args.iterations, self.args.warmup
        total = n + warm
        # Iteration i takes the i-th ordering of the lanes, cycling through all of them:
        # each runtime runs equally often in each position, and follows each other runtime
        # equally often (a fixed rotation would always put the same runtime after the same
        # one, and the kernel's deferred clean-up of one container lands on the next).
        orders = {step: list(itertools.permutations(lanes)) for step, lanes in steps}
        for i in range(-warm, n):
            for step, _ in steps:
                for lane in orders[step][i % len(orders[step])]:
                    self.run_lane_step(step, lane, bundles, i >= 0)
            if sys.stderr.isatty():
                print(f"\r  iteration {i + warm + 1}/{total}", end="", file=sys.stderr,
                      flush=True)
        if sys.stderr.isatty():
            print(file=sys.stderr)

    # -- krun availability --------------------------------------------------------------

    def krun_lane(self, krunc, bundles):
        """Return (lane, None) when the krun case can run, else (None, reason)."""
        d = self.args.fake_libkrun
        if not d:
            return None, "no --fake-libkrun DIR given"
        d = os.path.abspath(d)
        if not os.path.exists(os.path.join(d, "libkrun.so.1")):
            return None, f"no libkrun.so.1 in {d} (build the test double first)"
        env = dict(ENV_BASE, LD_LIBRARY_PATH=d)
        lane = Lane("krunc+krun", krunc, env, "krun")
        out = self.untimed(lane, "features", check=False)
        if out.returncode != 0 or "krun" not in out.stdout:
            return None, "`krunc features` does not list the krun executor"
        self.kvm = provide_kvm_node(self.tmp, self.args.fake_kvm)
        bundle = bundles["krun"]
        cid = self.new_id(lane, "probe")
        bundle.prepare(cid)
        marker = os.path.join(bundle.path, "rootfs", ".krun_config.json")
        out = self.untimed(lane, "create", "-b", bundle.path, cid, check=False)
        try:
            if out.returncode != 0:
                return None, f"krun probe: create failed: {out.stderr.strip()}"
            if not os.path.exists(marker):
                return None, "krun probe: create wrote no rootfs/.krun_config.json"
        finally:
            self.untimed(lane, "delete", "-f", cid, check=False)
            reap_strays()
        try:
            self.check_output(lane, bundle, None)
        except StepFailed as e:
            return None, f"krun probe: {e}"
        return lane, None

    # -- cleanup -------------------------------------------------------------------------

    def cleanup_runtime(self, rt):
        env = ENV_BASE
        if os.path.isdir(rt.root):
            for cid in os.listdir(rt.root):
                if os.path.isdir(os.path.join(rt.root, cid)):
                    self.warn(f"{rt.label}: container {cid} was still in its --root; deleted")
                    subprocess.run(rt.command("delete", "-f", cid), capture_output=True,
                                   env=env, timeout=INVOKE_TIMEOUT_S)
        reap_strays()

    def cleanup_cgroups(self):
        leaked = set()
        for mnt in cgroup_mounts():
            top = mnt + self.cgroup_parent
            if not os.path.isdir(top):
                continue
            for dirpath, dirnames, _ in os.walk(top, topdown=False):
                if dirpath != top and os.path.dirname(dirpath) == top:
                    leaked.add(os.path.basename(dirpath))
                for attempt in range(50):
                    try:
                        os.rmdir(dirpath)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        self.kill_cgroup(dirpath)
                        time.sleep(0.02)
                else:
                    self.warn(f"could not remove cgroup {dirpath}")
        for cid in sorted(leaked):
            self.warn(f"cgroup of {cid} was left behind; removed")

    def kill_cgroup(self, path):
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                pids = [int(p) for p in f.read().split()]
        except OSError:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        reap_strays()


# --------------------------------------------------------------------------- report

def fmt_ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "n/a"


def report(session, runtimes, lanes_used, krun_reason, layout, floor, helper_kind, args):
    S = session.samples
    med = lambda row, key: statistics.median(S[(row, key)]["ms"]) if (row, key) in S else None
    out = []
    p = out.append
    p(f"krunc lifecycle benchmark: {args.iterations} iterations per case "
      f"(+{args.warmup} warm-up), interleaved, cycling through every order of the runtimes")
    for rt in runtimes:
        p(f"  {rt.label:<6} {rt.path}  ({rt.version})")
    p(f"  cgroups: {layout}")
    p(f"  spawn floor (fork+wait of the {helper_kind} helper, in every number below): "
      f"{floor[0]:.3f} ms, {floor[1]} KiB")
    if session.kvm:
        p(f"  /dev/kvm for the krun case: {session.kvm}")
    p("")
    p(f"{'case':<11} {'runtime':<11} {'n':>4} {'median ms':>10} {'p90 ms':>9} {'peak RSS KiB':>13}")
    for row in ROWS + ("run-krun",):
        for key in lanes_used:
            s = S.get((row, key))
            if s:
                p(f"{row:<11} {key:<11} {len(s['ms']):>4} {statistics.median(s['ms']):>10.2f} "
                  f"{p90(s['ms']):>9.2f} {max(s['rss']):>13}")
    p("")
    p(f"{'ratio of medians':<17} {'krunc/runc':>10} {'krunc/crun':>10}")
    for row in ROWS:
        k, r, c = med(row, "krunc"), med(row, "runc"), med(row, "crun")
        if (k, r, c) != (None, None, None):
            p(f"{row:<17} {fmt_ratio(k, r):>10} {fmt_ratio(k, c):>10}")
    p("")
    p("peak RSS per runtime (max ru_maxrss over all its timed invocations):")
    peaks = {}
    for key in lanes_used:
        vals = [max(s["rss"]) for (row, k), s in S.items() if k == key]
        if vals:
            peaks[key] = max(vals)
            p(f"  {key:<11} {peaks[key]:>8} KiB")
    p("")

    failures = [(lane.key, step, msg) for lane in lanes_used.values()
                for step, msg in lane.failed.items()]
    if failures:
        p("FAILED steps (that runtime's lane was stopped for that case):")
        for key, step, msg in failures:
            p(f"  {key} {step}: {msg}")
        p("")
    if session.warnings:
        p("warnings:")
        for w in session.warnings:
            p(f"  {w}")
        p("")

    verdict = lambda ok: "PASS" if ok else "FAIL"
    p("targets (informational):")
    k, c = med("run", "krunc"), med("run", "crun")
    if k is not None and c is not None:
        p(f"  krunc run median <= crun run median: {k:.2f} ms vs {c:.2f} ms  {verdict(k <= c)}")
    else:
        p("  krunc run median <= crun run median: n/a (no data)")
    if "krunc" in peaks:
        p(f"  krunc peak RSS <= {RSS_TARGET_KIB} KiB (default executor): {peaks['krunc']} KiB  "
          f"{verdict(peaks['krunc'] <= RSS_TARGET_KIB)}")
    else:
        p(f"  krunc peak RSS <= {RSS_TARGET_KIB} KiB: n/a (no data)")
    kk = med("run-krun", "krunc+krun")
    if krun_reason:
        p(f"  run-krun: unavailable ({krun_reason})")
    elif kk is not None and k is not None:
        d = kk - k
        p(f"  run-krun median - krunc run median <= +{KRUN_DELTA_TARGET_MS:.0f} ms: "
          f"{kk:.2f} - {k:.2f} = {d:+.2f} ms  {verdict(d <= KRUN_DELTA_TARGET_MS)}")
    else:
        p("  run-krun: n/a (no data)")
    return "\n".join(out), failures


# --------------------------------------------------------------------------- main

def parse_args():
    ap = argparse.ArgumentParser(description="krunc lifecycle benchmark against runc and crun "
                                 "(run as root; see bench/README.md)")
    ap.add_argument("--krunc", default=os.path.join(REPO, "build", "krunc"),
                    help="krunc binary (default: %(default)s)")
    ap.add_argument("--runc", default="/usr/sbin/runc", help="runc binary (default: %(default)s)")
    ap.add_argument("--crun", default="/usr/bin/crun", help="crun binary (default: %(default)s)")
    ap.add_argument("-n", "--iterations", type=int, default=100,
                    help="timed iterations per case (default: %(default)s)")
    ap.add_argument("--warmup", type=int, default=3,
                    help="untimed iterations first (default: %(default)s)")
    ap.add_argument("--cases", default=",".join(ALL_CASES),
                    help="comma-separated subset of: " + ", ".join(ALL_CASES))
    ap.add_argument("--fake-libkrun", metavar="DIR",
                    help="directory holding the libkrun test double (libkrun.so.1) for run-krun")
    ap.add_argument("--fake-kvm", action="store_true",
                    help="for run-krun, use a private /dev/kvm node even if the host has one")
    ap.add_argument("--json", metavar="FILE", help="also write every sample to FILE")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"),
                    help="C compiler for the spawn helper (default: %(default)s)")
    args = ap.parse_args()
    args.cases = [c for c in args.cases.split(",") if c]
    bad = [c for c in args.cases if c not in ALL_CASES]
    if bad or not args.cases:
        ap.error(f"unknown case(s) {', '.join(bad) or '(none)'}; choose from {', '.join(ALL_CASES)}")
    if args.iterations < 1 or args.warmup < 0:
        ap.error("--iterations must be >= 1 and --warmup >= 0")
    return args


def interrupted(signum, frame):
    raise KeyboardInterrupt


def check_binary(label, path):
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        hint = " (build krunc first, or pass --krunc)" if label == "krunc" else ""
        raise BenchError(f"{label}: {path} is not an executable file{hint}")


def main():
    args = parse_args()
    if os.geteuid() != 0:
        raise BenchError("run as root: the runtimes need it, and so does the private namespace")
    for label, path in (("krunc", args.krunc), ("runc", args.runc), ("crun", args.crun)):
        check_binary(label, os.path.abspath(path))
    if not os.path.exists(BUSYBOX):
        raise BenchError(f"{BUSYBOX} not found (apt-get install busybox-static)")

    enter_private_namespace()
    # Orphaned container processes (after create, the runtime exits) come to us, and we
    # reap them, instead of depending on what pid 1 does.
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise BenchError("prctl(PR_SET_CHILD_SUBREAPER) failed")
    signal.signal(signal.SIGTERM, interrupted)

    tmp = tempfile.mkdtemp(prefix="krunc-bench.")
    tmp_mounted = False
    session = runtimes = None
    failures = []
    try:
        # A tmpfs of this namespace only: bundles and --root dirs off the disk, and gone
        # with the namespace even if we are killed.
        sys_mount("tmpfs", tmp, "tmpfs", 0, "mode=0700")
        tmp_mounted = True
        layout = set_up_cgroups()
        session = Session(args, tmp)
        helper_kind = session.build_helper()
        runtimes = [Runtime("krunc", os.path.abspath(args.krunc), tmp),
                    Runtime("runc", os.path.abspath(args.runc), tmp),
                    Runtime("crun", os.path.abspath(args.crun), tmp)]
        krunc, runc, crun = runtimes
        bundles = {kind: Bundle(os.path.join(tmp, "bundle-" + kind), kind, session.cgroup_parent)
                   for kind in ("default", "limits", "krun")}

        plain = [Lane(rt.label, rt, ENV_BASE, "default") for rt in runtimes]
        lanes_used = {lane.key: lane for lane in plain}
        krun_lane, krun_reason = None, "not selected (--cases)"
        if "run-krun" in args.cases:
            if "run" not in args.cases:
                krun_reason = "it needs the run case too, its delta is against krunc's run"
            else:
                krun_lane, krun_reason = session.krun_lane(krunc, bundles)
        steps = []
        if "run" in args.cases:
            steps.append(("run", plain + ([krun_lane] if krun_lane else [])))
            if krun_lane:
                lanes_used[krun_lane.key] = krun_lane
        if "run-limits" in args.cases:
            steps.append(("run-limits", list(plain)))
        if "lifecycle" in args.cases:
            steps.append(("lifecycle", list(plain)))

        for lane in plain:
            session.check_lane(lane, bundles, "run-limits" in args.cases)
        floor = session.floor()
        if steps:
            session.run(steps, bundles)
        text, failures = report(session, runtimes, lanes_used, krun_reason, layout, floor,
                                helper_kind, args)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"iterations": args.iterations, "warmup": args.warmup,
                           "runtimes": {rt.label: {"path": rt.path, "version": rt.version}
                                        for rt in runtimes},
                           "cgroups": layout, "floor_ms": floor[0], "floor_rss_kib": floor[1],
                           "run_krun_unavailable": krun_reason,
                           "samples": [{"case": row, "runtime": key, **s}
                                       for (row, key), s in session.samples.items()],
                           "failures": [{"runtime": k, "case": s, "error": m}
                                        for k, s, m in failures]}, f, indent=1)
    finally:
        if session and runtimes:
            for rt in runtimes:
                session.cleanup_runtime(rt)
            session.cleanup_cgroups()
        reap_strays()
        # Our mounts are private to this namespace and go with it; detach them anyway.
        for m in reversed(mountinfo()):
            if m["mountpoint"] == "/dev" and m["fstype"] == "overlay":
                sys_umount("/dev", MNT_DETACH)
        if tmp_mounted:
            sys_umount(tmp, MNT_DETACH)
        os.rmdir(tmp)
    print(text)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"lifecycle.py: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\nlifecycle.py: interrupted; cleaned up", file=sys.stderr)
        sys.exit(130)
