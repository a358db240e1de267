"""Tests of the libkrun test double (tests/fake-libkrun) itself.

They drive the double through tests/fake-libkrun/driver, which dlopen()s it via
LD_LIBRARY_PATH exactly as krunc does, and check the call log, the error codes, the
guest init's key rules and limits, the environment rules, exit codes and the symbol
sets of the variants. Run as root (chroot, mknod, unshare, setuid).

    /usr/bin/python3 -m pytest tests/integration/test_fake_libkrun.py

The build directory is $KRUNC_BUILD (default: <repo>/build).
"""
import json
import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("KRUNC_BUILD", REPO / "build"))
FK = BUILD / "tests" / "fake-libkrun"
DRIVER = FK / "driver"
BUSYBOX = Path("/bin/busybox")

VARIANTS = {
    "default": "libkrun.so.1",
    "minimal": "libkrun.so.1",
    "sev": "libkrun-sev.so.1",
    "tdx": "libkrun-tdx.so.1",
    "awsnitro": "libkrun-awsnitro.so.1",
}

EINVAL, ENOENT, ENODEV, EEXIST, ENOTSUP, EOPNOTSUPP = 22, 2, 19, 17, 95, 95

ALL_SYMBOLS = """
set_log_level init_log create_ctx free_ctx set_vm_config get_max_vcpus has_feature start_enter
set_root add_virtiofs add_virtiofs2 add_virtiofs3 set_mapped_volumes fs_add_overlay_file
fs_add_overlay_dir disable_implicit_init get_default_init set_root_disk set_data_disk add_disk
add_disk2 add_disk3 set_root_disk_remount set_exec set_env set_workdir set_rlimits set_port_map
add_net_unixstream add_net_unixgram add_net_tap set_passt_fd set_gvproxy_path set_net_mac
add_vsock_port add_vsock_port2 disable_implicit_vsock add_vsock set_gpu_options set_gpu_options2
add_display display_set_edid display_set_dpi display_set_physical_size display_set_refresh_rate
set_display_backend add_input_device add_input_device_fd add_vhost_user_device
set_smbios_oem_strings set_console_output disable_implicit_console add_virtio_console_default
add_serial_console_default add_virtio_console_multiport add_console_port_tty
add_console_port_inout set_kernel_console set_kernel set_firmware set_nested_virt
check_nested_virt split_irqchip setuid setgid get_shutdown_eventfd set_tee_config_file
""".split()
CORE = """set_log_level create_ctx free_ctx set_vm_config set_root set_mapped_volumes set_workdir
set_exec set_env set_rlimits start_enter""".split()
NET = "add_net_unixstream add_net_unixgram add_net_tap set_passt_fd set_gvproxy_path set_net_mac".split()
BLK = "add_disk add_disk2 add_disk3 set_root_disk set_data_disk".split()
VFS = """add_virtiofs add_virtiofs2 add_virtiofs3 fs_add_overlay_file fs_add_overlay_dir
disable_implicit_init get_default_init""".split()


def expected_symbols(variant):
    if variant == "minimal":
        return set(CORE)
    syms = set(ALL_SYMBOLS)
    tee = variant in ("sev", "tdx")
    if not tee:
        syms.discard("set_tee_config_file")
    if tee:
        syms -= {"set_root", "set_mapped_volumes", "set_firmware", "set_root_disk_remount", *VFS, *NET}
    if variant == "awsnitro":
        syms -= {"set_root", "set_root_disk_remount", *VFS, *BLK}
    return syms


@pytest.fixture(scope="session", autouse=True)
def built():
    missing = [p for p in [DRIVER] + [FK / v / f for v, f in VARIANTS.items()] if not p.exists()]
    if missing:
        pytest.fail(f"build the project first (meson setup build && ninja -C build); missing: {missing}")
    if os.geteuid() != 0:
        pytest.skip("these tests need root (chroot, mknod, unshare, setuid)")


class Run:
    def __init__(self, proc, log_path):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.ops = [json.loads(l[len("@driver "):]) for l in proc.stderr.splitlines() if l.startswith("@driver ")]
        self.log = []
        if log_path.exists():
            self.log = [json.loads(l) for l in log_path.read_text().splitlines()]

    def rets(self, op=None):
        return [o.get("ret") for o in self.ops if op is None or o["op"] == op]

    def ret(self, op):
        r = self.rets(op)
        assert len(r) == 1, (op, self.ops, self.stderr)
        return r[0]

    def call(self, name):
        lines = [l for l in self.log if l["call"] == "krun_" + name]
        assert len(lines) == 1, (name, self.log)
        return lines[0]

    @property
    def vm(self):
        return self.call("start_enter")["vm"]

    @property
    def guest(self):
        return self.vm["guest"]


def ops_argv(ops):
    argv = []
    for op in ops:
        if argv:
            argv.append(",")
        argv.extend(str(x) for x in op)
    return argv


def run(tmp_path, ops, variant="default", env=None, lib=None, timeout=60):
    log = tmp_path / f"log-{time.monotonic_ns()}.jsonl"
    e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LD_LIBRARY_PATH": str(FK / variant), "FAKE_KRUN_LOG": str(log)}
    e.update({k: v for k, v in os.environ.items() if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS")})
    e.update(env or {})
    argv = [str(DRIVER)] + (["-l", lib] if lib else []) + ops_argv(ops)
    proc = subprocess.run(argv, env=e, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    return Run(proc, log)


@pytest.fixture
def rootfs(tmp_path):
    """A tiny busybox guest root, with a stand-in /dev/kvm node."""
    root = tmp_path / "rootfs"
    for d in ("bin", "dev", "proc", "tmp", "work"):
        (root / d).mkdir(parents=True)
    root.chmod(0o755)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in ("sh", "echo", "env", "pwd", "cat", "hostname", "sleep", "true", "touch", "id"):
        (root / "bin" / applet).symlink_to("busybox")
    os.mknod(root / "dev" / "kvm", 0o666 | stat.S_IFCHR, os.makedev(10, 232))
    os.mknod(root / "dev" / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    for node in ("kvm", "null"):
        os.chmod(root / "dev" / node, 0o666)  # mknod's mode is filtered by the umask
    return root


def write_config(root, cfg, mode=0o444):
    path = root / ".krun_config.json"
    if path.exists():
        path.chmod(0o644)
    path.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
    path.chmod(mode)
    return path


def oci(args, env=("PATH=/bin",), cwd="/", **extra):
    cfg = {"ociVersion": "1.0.2", "process": {"args": list(args), "env": list(env), "cwd": cwd}}
    cfg.update(extra)
    return cfg


def start(root, *extra, ctx=0):
    """The usual krunc-like sequence with the guest root given to krun_set_root."""
    return [("create_ctx",), ("set_log_level", 1), ("set_vm_config", ctx, 2, 512), ("set_root", ctx, root), *extra,
            ("start_enter", ctx)]


def env_dict(lines):
    return dict(l.split("=", 1) for l in lines if "=" in l)


# ---- library files, sonames, symbol sets ---------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_library_file_soname_and_dlopen(tmp_path, variant):
    fname = VARIANTS[variant]
    path = FK / variant / fname
    assert path.is_file() and not path.is_symlink()
    dyn = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    assert f"Library soname: [{fname}]" in dyn
    # dlopen by soname with LD_LIBRARY_PATH=<dir> picks the file in that dir.
    r = run(tmp_path, [("libpath",)], variant=variant, lib=fname)
    assert r.rc == 0, r.stderr
    assert Path(r.ops[0]["path"]).resolve() == path.resolve()


def test_minimal_and_default_are_told_apart_by_ld_library_path(tmp_path):
    assert (FK / "minimal" / "libkrun.so.1").resolve() != (FK / "default" / "libkrun.so.1").resolve()
    for variant, present in (("default", True), ("minimal", False)):
        r = run(tmp_path, [("sym", "krun_has_feature")], variant=variant)
        assert r.ops[0]["present"] is present


@pytest.mark.parametrize("variant", VARIANTS)
def test_symbol_sets(tmp_path, variant):
    r = run(tmp_path, [("sym", s) for s in ALL_SYMBOLS], variant=variant, lib=VARIANTS[variant])
    present = {o["name"][len("krun_"):] for o in r.ops if o["present"]}
    assert present == expected_symbols(variant)
    # Nothing but the API leaks out of the library.
    nm = subprocess.run(["nm", "-D", "--defined-only", str(FK / variant / VARIANTS[variant])],
                        capture_output=True, text=True, check=True).stdout
    exported = {l.split()[-1] for l in nm.splitlines() if l.split()[1] in "TtDdBb"}
    assert {s[len("krun_"):] for s in exported} == expected_symbols(variant)


def test_minimal_lacks_optional_symbols_but_runs(tmp_path, rootfs):
    optional = ["set_nested_virt", "check_nested_virt", "set_gpu_options", "set_gpu_options2", "get_max_vcpus",
                "has_feature", "add_net_unixstream", "add_net_unixgram", "add_net_tap", "set_passt_fd",
                "set_port_map", "init_log", "set_tee_config_file", "add_virtiofs2", "set_console_output",
                "set_kernel", "setuid"]
    write_config(rootfs, oci(["/bin/echo", "minimal ok"]))
    r = run(tmp_path, [("sym", s) for s in optional] + [("set_nested_virt", 0, 1)] + start(rootfs), "minimal")
    assert not any(o["present"] for o in r.ops if o["op"] == "sym")
    assert r.ops[len(optional)] == {"op": "set_nested_virt", "missing": True}
    assert r.rc == 0 and r.stdout == "minimal ok\n"


# ---- the call log --------------------------------------------------------------------------


def test_log_lines_record_each_call_with_args_and_place(tmp_path):
    r = run(tmp_path, [("pid",), ("create_ctx",), ("create_ctx",), ("set_vm_config", 1, 4, 2048),
                       ("set_exec", 0, "/bin/app", "[", "a", "b c", "]", "[", "X=1", "]"),
                       ("set_port_map", 1, "[", "8080:80", "]"), ("free_ctx", 7)])
    assert r.rc == 0, r.stderr
    pid = r.ops[0]["pid"]
    assert [l["call"] for l in r.log] == ["krun_create_ctx", "krun_create_ctx", "krun_set_vm_config",
                                          "krun_set_exec", "krun_set_port_map", "krun_free_ctx"]
    host_mntns = os.readlink("/proc/self/ns/mnt")
    for line in r.log:
        assert set(line) == {"call", "args", "ret", "pid", "root", "mntns", "uid"}
        assert line["pid"] == pid and line["root"] == "host" and line["mntns"] == host_mntns
        assert line["uid"] == 0
    # Context ids start at 0, like libkrun's.
    assert [l["ret"] for l in r.log[:2]] == [0, 1]
    assert r.call("set_vm_config")["args"] == {"ctx_id": 1, "num_vcpus": 4, "ram_mib": 2048}
    assert r.call("set_exec")["args"] == {"ctx_id": 0, "exec_path": "/bin/app", "argv": ["a", "b c"],
                                          "envp": ["X=1"]}
    assert r.call("set_port_map")["args"] == {"ctx_id": 1, "port_map": ["8080:80"]}
    assert r.call("free_ctx")["ret"] == -ENOENT
    # One write per line: the file is exactly the lines, each newline-terminated.
    assert r.rets() == [None, 0, 1, 0, 0, 0, -ENOENT]


def test_log_follows_the_process_into_a_new_root_and_mount_namespace(tmp_path, rootfs):
    write_config(rootfs, oci(["/bin/true"]))
    r = run(tmp_path, [("create_ctx",), ("unshare-mnt",), ("mount-proc", rootfs / "proc"), ("chroot", rootfs),
                       ("set_vm_config", 0, 1, 256), ("set_root", 0, "/"), ("start_enter", 0)])
    assert r.rc == 0, r.stderr
    create, vmcfg, setroot, enter = r.log
    assert create["root"] == "host" and create["mntns"] == os.readlink("/proc/self/ns/mnt")
    # The log path does not exist inside the new root: the fd opened at load time is used.
    assert not (rootfs / tmp_path.relative_to("/")).exists()
    for line in (vmcfg, setroot, enter):
        assert line["root"] == "other"
        assert line["mntns"].startswith("mnt:[") and line["mntns"] != create["mntns"]
    assert enter["ret"] is None and enter["vm"]["root"] == "/"


def test_knobs_survive_an_emptied_environment(tmp_path, rootfs):
    """krunc may replace environ with process.env before krun_start_enter; the knobs
    seen at load time still apply."""
    write_config(rootfs, oci(["/bin/echo", "hi"]))
    r = run(tmp_path, [("unsetenv", "FAKE_KRUN_NO_KRUNFW")] + start(rootfs), env={"FAKE_KRUN_NO_KRUNFW": "1"})
    assert r.ret("start_enter") == -ENOENT


# ---- error codes -----------------------------------------------------------------------------


def test_error_codes(tmp_path):
    r = run(tmp_path, [
        ("set_vm_config", 5, 1, 128),             # unknown ctx
        ("set_root", 5, "/"),
        ("set_exec", 5, "/bin/sh", "NULL", "NULL"),
        ("get_shutdown_eventfd", 5),
        ("start_enter", 5),
        ("create_ctx",),
        ("set_vm_config", 0, 0, 512),             # 0 vCPUs
        ("set_vm_config", 0, 2, 0),               # 0 MiB
        ("set_mapped_volumes", 0, "[", "/a:/b", "]"),
        ("get_shutdown_eventfd", 0),              # Linux: no eventfd
        ("set_port_map", 0, "[", "80", "]"),      # not host:guest
        ("set_port_map", 0, "[", "8080:80", "8081:80", "]"),  # guest port twice
        ("set_port_map", 0, "[", "70000:80", "]"),
        ("set_port_map", 0, "NULL"),              # NULL: expose everything
        ("set_console_output", 0, "/dev/null"),
        ("set_console_output", 0, "/dev/null"),   # only once
        ("has_feature", 3),
        ("has_feature", 0),
        ("init_log", 0, 1, 0, 0),                 # stdin as log target
        ("init_log", -2, 1, 0, 0),
        ("init_log", -1, 1, 7, 0),                # bad style
        ("set_rlimits", 0, "NULL"),
        ("add_vsock", 0, 1),                      # implicit vsock still on
        ("add_net_unixstream", 0, "NULL", -1, "5a:94:ef:e4:0c:ee", 0, 0),  # neither path nor fd
        ("add_net_unixstream", 0, "/run/passt.sock", 3, "5a:94:ef:e4:0c:ee", 0, 0),  # both
        ("add_net_unixstream", 0, "NULL", 3, "5a:94:ef:e4:0c:ee", 0, 4),   # unknown flag
        ("add_net_unixstream", 0, "NULL", 3, "5a:94:ef:e4:0c:ee", 0, 2),   # DHCP flag ok
        ("set_port_map", 0, "[", "8080:80", "]"), # NICs were added
        ("set_passt_fd", 0, 4),                   # legacy after a NIC
        ("free_ctx", 0),
        ("free_ctx", 0),
        ("create_ctx",),
        ("disable_implicit_vsock", 1),
        ("set_port_map", 1, "[", "8080:80", "]"),
        ("add_vsock_port", 1, 5000, "/tmp/x.sock"),
        ("add_vsock", 1, 4),
        ("add_vsock", 1, 1),
        ("add_vsock", 1, 3),
        ("start_enter", 1),                       # no root filesystem
        ("free_ctx", 1),                          # consumed by start_enter
    ])
    assert r.rc == 0, r.stderr
    assert r.rets() == [
        -ENOENT, -ENOENT, -ENOENT, -ENOENT, -ENOENT,
        0, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, 0, 0, -EINVAL,
        -EINVAL, 1, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EEXIST,
        -EINVAL, -EINVAL, -EINVAL, 0, -EINVAL, -EINVAL, 0, -ENOENT,
        1, 0, -ENODEV, -ENODEV, -EINVAL, 0, -EEXIST, -EINVAL, -ENOENT,
    ]
    # No logger was installed (both krun_init_log calls failed): libkrun stays silent.
    assert "Building the microVM failed" not in r.stderr


def test_strings_must_be_utf8(tmp_path):
    bad = b"/tmp/\xff\xfe".decode("utf-8", "surrogateescape")
    r = run(tmp_path, [("create_ctx",), ("set_root", 0, bad), ("set_workdir", 0, bad),
                       ("set_exec", 0, "/bin/sh", "[", bad, "]", "NULL"), ("set_root", 0, "/ok")])
    assert r.rets()[1:] == [-EINVAL, -EINVAL, -EINVAL, 0]
    # The log stays valid JSON: the bad bytes are shown as U+FFFD.
    assert [l["args"].get("root_path") for l in r.log if l["call"] == "krun_set_root"] == \
        ["/tmp/\ufffd\ufffd", "/ok"]


def test_second_logger_aborts_the_process(tmp_path):
    r = run(tmp_path, [("init_log", 0, 1, 0, 0), ("set_log_level", 1), ("create_ctx",), ("set_log_level", 2),
                       ("create_ctx",)])
    # A rejected init_log installs nothing; the second install aborts like the Rust panic.
    assert r.rc == -signal.SIGABRT
    assert r.rets() == [-EINVAL, 0, 0]
    assert [l["call"] for l in r.log][-1] == "krun_set_log_level" and r.log[-1]["ret"] is None
    assert "logger is already installed" in r.stderr
    r = run(tmp_path, [("set_log_level", 1), ("init_log", -1, 1, 0, 0)])
    assert r.rc == -signal.SIGABRT


def test_missing_libkrunfw(tmp_path, rootfs):
    write_config(rootfs, oci(["/bin/echo", "ran"]))
    r = run(tmp_path, start(rootfs) + [("free_ctx", 0)], env={"FAKE_KRUN_NO_KRUNFW": "1"})
    assert r.rc == 0 and r.stdout == ""
    assert r.ret("start_enter") == -ENOENT and r.ret("free_ctx") == -ENOENT  # the context is gone
    assert "Couldn't find or load libkrunfw.so.5" in r.stderr
    # With a kernel of its own, libkrun does not need libkrunfw.
    kernel = tmp_path / "vmlinux"
    kernel.write_bytes(b"\x7fELF")
    r = run(tmp_path, start(rootfs, ("set_kernel", 0, kernel, 1, "NULL", "NULL")), env={"FAKE_KRUN_NO_KRUNFW": "1"})
    assert r.rc == 0 and r.stdout == "ran\n"
    r = run(tmp_path, [("create_ctx",), ("start_enter", 0)], variant="sev", lib="libkrun-sev.so.1",
            env={"FAKE_KRUN_NO_KRUNFW": "1"})
    assert "Couldn't find or load libkrunfw-sev.so.5" in r.stderr and r.ret("start_enter") == -ENOENT


def test_max_vcpus_and_nested_virt_knobs(tmp_path):
    r = run(tmp_path, [("get_max_vcpus",), ("check_nested_virt",)],
            env={"FAKE_KRUN_MAX_VCPUS": "7", "FAKE_KRUN_NESTED_VIRT": "1"})
    assert r.rets() == [7, 1]
    r = run(tmp_path, [("check_nested_virt",)], env={"FAKE_KRUN_NESTED_VIRT": "0"})
    assert r.rets() == [0]


def test_tee_variants(tmp_path, rootfs):
    disk = rootfs / "disk.img"
    disk.write_bytes(b"\0" * 4096)
    tee = rootfs / "krun-sev.json"
    tee.write_text(json.dumps({"workload_id": "w", "cpus": 3, "ram_mib": 1536, "tee": "snp",
                               "tee_data": '{"gen":"milan"}', "attestation_url": ""}))
    write_config(rootfs, oci(["/bin/echo", "confidential"]))
    os.mknod(rootfs / "dev" / "sev", 0o666 | stat.S_IFCHR, os.makedev(10, 124))
    base = [("create_ctx",), ("chroot", rootfs), ("set_log_level", 1), ("set_vm_config", 0, 1, 512),
            ("set_root_disk", 0, "/disk.img")]
    r = run(tmp_path, base + [("start_enter", 0)], "sev", lib="libkrun-sev.so.1")
    assert r.ret("start_enter") == -EINVAL and "Missing TEE config file" in r.stderr
    r = run(tmp_path, base + [("set_tee_config_file", 0, "/krun-sev.json"), ("set_kernel", 0, "/x", 1, "NULL", "NULL"),
                              ("has_feature", 7), ("has_feature", 0), ("start_enter", 0)], "sev", lib="libkrun-sev.so.1")
    assert r.rc == 0 and r.stdout == "confidential\n"
    assert r.ret("set_kernel") == -EOPNOTSUPP
    assert [o["ret"] for o in r.ops if o["op"] == "has_feature"] == [1, 0]
    assert (r.vm["vcpus"], r.vm["ram_mib"]) == (3, 1536)  # the TEE config wins
    r = run(tmp_path, [("create_ctx",), ("set_vm_config", 0, 2, 512), ("set_vm_config", 0, 1, 4096),
                       ("set_vm_config", 0, 1, 3072)], "tdx", lib="libkrun-tdx.so.1")
    assert r.rets() == [0, -EINVAL, -EINVAL, 0]


def test_nitro_returns_the_exit_code(tmp_path, rootfs):
    out = tmp_path / "console.txt"
    ops = [("create_ctx",), ("set_exec", 0, "/bin/sh", "[", "-c", "echo enclave $A; exit 5", "]", "[", "A=1", "]"),
           ("set_console_output", 0, out), ("start_enter", 0), ("pid",)]
    r = run(tmp_path, ops, "awsnitro", lib="libkrun-awsnitro.so.1")
    assert r.ret("start_enter") == -EINVAL  # no /dev/nitro_enclaves
    r = run(tmp_path, ops, "awsnitro", lib="libkrun-awsnitro.so.1", env={"FAKE_KRUN_DEVICE_CHECK": "0"})
    assert r.rc == 0 and r.ret("start_enter") == 5 and r.ops[-1]["op"] == "pid"
    assert out.read_text() == "enclave 1\n"
    r = run(tmp_path, [("create_ctx",), ("start_enter", 0)], "awsnitro", lib="libkrun-awsnitro.so.1",
            env={"FAKE_KRUN_DEVICE_CHECK": "0"})
    assert r.ret("start_enter") == -EINVAL  # no krun_set_exec


def test_device_check(tmp_path, rootfs):
    write_config(rootfs, oci(["/bin/echo", "vm"]))
    (rootfs / "dev" / "kvm").unlink()
    seq = [("create_ctx",), ("chroot", rootfs), ("set_log_level", 1), ("set_root", 0, "/"), ("start_enter", 0)]
    r = run(tmp_path, seq)
    assert r.ret("start_enter") == -EINVAL and "/dev/kvm" in r.stderr
    r = run(tmp_path, seq, env={"FAKE_KRUN_DEVICE_CHECK": "0"})
    assert r.rc == 0 and r.stdout == "vm\n"
    # A node the process may not open (mode 0600, VMM running as uid 1000) fails too.
    os.mknod(rootfs / "dev" / "kvm", 0o600 | stat.S_IFCHR, os.makedev(10, 232))
    r = run(tmp_path, seq[:-1] + [("setuid", 0, 1000), ("start_enter", 0)])
    assert r.ret("start_enter") == -EINVAL and "Permission denied" in r.stderr


def test_kernel_command_line_limit(tmp_path, rootfs):
    write_config(rootfs, oci(["/bin/true"]))
    big = ["[", *(f"V{i}={'x' * 1000}" for i in range(70)), "]"]
    r = run(tmp_path, start(rootfs, ("set_env", 0, *big)))
    assert r.ret("start_enter") == -EINVAL
    small = ["[", *(f"V{i}={'x' * 100}" for i in range(70)), "]"]
    r = run(tmp_path, start(rootfs, ("set_env", 0, *small)))
    assert r.rc == 0


# ---- the guest init: program, key rules, limits ----------------------------------------------


def test_runs_config_args_in_the_guest_root(tmp_path, rootfs):
    write_config(rootfs, oci(["/bin/sh", "-c", "echo $0 $1; pwd; exit 3", "zero", "one"], cwd="/work"))
    r = run(tmp_path, start(rootfs))
    assert r.rc == 3 and r.stdout == "zero one\n/work\n"
    assert r.guest["argv"] == ["/bin/sh", "-c", "echo $0 $1; pwd; exit 3", "zero", "one"]
    assert r.guest["config_status"] == "ok" and r.guest["init"] == "c"


@pytest.mark.parametrize("init", ["c", "rust"])
def test_process_before_hooks(tmp_path, rootfs, init):
    hook = {"path": "/bin/echo", "args": ["/bin/echo", "HOOK"], "env": ["WHO=hook"]}
    process = {"args": ["/bin/sh", "-c", "echo REAL $WHO"], "env": ["PATH=/bin", "WHO=process"], "cwd": "/"}
    hooks_first = '{"ociVersion":"1.0.2","hooks":{"prestart":[%s]},"process":%s}' % (json.dumps(hook),
                                                                                      json.dumps(process))
    process_first = '{"ociVersion":"1.0.2","process":%s,"hooks":{"prestart":[%s]}}' % (json.dumps(process),
                                                                                        json.dumps(hook))
    env = {"FAKE_KRUN_INIT": init}
    write_config(rootfs, process_first)
    assert run(tmp_path, start(rootfs), env=env).stdout == "REAL process\n"
    write_config(rootfs, hooks_first)
    r = run(tmp_path, start(rootfs), env=env)
    if init == "c":
        # The flat scan finds the hook's "args" and "env" first.
        assert r.stdout == "HOOK\n" and env_dict(r.guest["env"])["WHO"] == "hook"
    else:
        assert r.stdout == "REAL process\n"


def test_keys_are_case_insensitive_and_first_match_wins(tmp_path, rootfs):
    cfg = ('{"annotations":{"x":"y"},"CMD":["/bin/sh","-c","echo $A $B; pwd"],'
           '"ENV":["A=first"],"WORKINGDIR":"/work","env":["B=second"],"args":["/bin/echo","later"],'
           '"cwd":"/tmp"}')
    write_config(rootfs, cfg)
    r = run(tmp_path, start(rootfs))
    assert r.stdout == "first\n/work\n"
    # Keys match even as string values: the token after a value "cwd" is taken.
    write_config(rootfs, '{"note":"cwd","x":"y","args":["/bin/pwd"]}')
    r = run(tmp_path, start(rootfs))
    assert r.guest["cwd"] == "x"


def test_json_escapes_and_krun_config(tmp_path, rootfs):
    args = ["/bin/echo", 'a"b', "caf\u00e9", "tab\there", "back\\slash", "\U0001f600"]
    write_config(rootfs, json.dumps({"args": args}, ensure_ascii=True))
    r = run(tmp_path, start(rootfs))
    assert r.stdout == " ".join(args[1:]) + "\n"
    # $KRUN_CONFIG (from the guest's environment) names another file in the guest root.
    (rootfs / "work" / "other.json").write_text(json.dumps({"args": ["/bin/echo", "other"]}))
    r = run(tmp_path, start(rootfs, ("set_env", 0, "[", "KRUN_CONFIG=/work/other.json", "]")))
    assert r.stdout == "other\n" and r.guest["config"] == "/work/other.json"


def test_entrypoint(tmp_path, rootfs):
    write_config(rootfs, {"Entrypoint": ["/bin/echo", "entry"], "Cmd": ["cmd"]})
    assert run(tmp_path, start(rootfs)).stdout == "entry cmd\n"
    # Alone, the entrypoint is ignored: the init falls back to /bin/sh.
    write_config(rootfs, {"Entrypoint": ["/bin/echo", "entry"]})
    r = run(tmp_path, start(rootfs))
    assert r.stdout == "" and r.guest["argv"] == ["/bin/sh"]


def count_tokens(v):
    """jsmn's count: one per object, array, string (keys too) and primitive."""
    if isinstance(v, dict):
        return 1 + sum(1 + count_tokens(x) for x in v.values())
    if isinstance(v, list):
        return 1 + sum(count_tokens(x) for x in v)
    return 1


def config_with_tokens(total):
    cfg = oci(["/bin/echo", "tokens ok"])
    cfg["pad"] = []
    cfg["pad"] = [0] * (total - count_tokens(cfg))
    assert count_tokens(cfg) == total
    return cfg


def test_token_limit(tmp_path, rootfs):
    write_config(rootfs, config_with_tokens(16384))
    r = run(tmp_path, start(rootfs))
    assert r.stdout == "tokens ok\n" and r.guest["config_status"] == "ok"
    write_config(rootfs, config_with_tokens(16385))
    r = run(tmp_path, start(rootfs))
    # The whole file is ignored: no args, no env; the init runs /bin/sh (stdin is empty).
    assert r.rc == 0 and r.stdout == "" and r.guest["config_status"] == "too-many-tokens"
    assert r.guest["argv"] == ["/bin/sh"] and "PATH" not in env_dict(r.guest["env"])
    # The Rust init has no such limit.
    r = run(tmp_path, start(rootfs), env={"FAKE_KRUN_INIT": "rust"})
    assert r.stdout == "tokens ok\n"


def test_argument_limit_of_older_inits(tmp_path, rootfs):
    args = ["/bin/sh", "-c", "echo $#", "zero"] + [f"a{i}" for i in range(36)]
    write_config(rootfs, oci(args))
    assert run(tmp_path, start(rootfs)).stdout == "36\n"
    r = run(tmp_path, start(rootfs), env={"FAKE_KRUN_MAX_ARGS": "32"})
    assert r.stdout == "28\n" and len(r.guest["argv"]) == 32


def test_rust_init_reads_process_and_rejects_bad_types(tmp_path, rootfs):
    rust = {"FAKE_KRUN_INIT": "rust"}
    write_config(rootfs, {"args": ["/bin/echo", "flat"], "process": {"args": ["/bin/echo", "process"]}})
    assert run(tmp_path, start(rootfs), env=rust).stdout == "process\n"
    assert run(tmp_path, start(rootfs)).stdout == "flat\n"  # the C init takes the first match
    write_config(rootfs, {"args": ["/bin/echo", "flat"], "env": ["PATH=/bin"]})
    assert run(tmp_path, start(rootfs), env=rust).stdout == "flat\n"
    # A field of the wrong type makes serde reject the whole file.
    write_config(rootfs, {"process": {"args": "/bin/echo"}, "args": ["/bin/echo", "flat"]})
    r = run(tmp_path, start(rootfs), env=rust)
    assert r.stdout == "" and r.guest["config_status"] == "invalid"
    write_config(rootfs, oci(["/bin/true"], mounts=[{"destination": "/run", "type": "tmpfs", "source": "tmpfs"}]))
    assert run(tmp_path, start(rootfs), env=rust).guest["tmpfs"] == "/run"


# ---- environment, workdir, rlimits, hostname -------------------------------------------------


def test_env_is_not_overwritten_except_home_and_term(tmp_path, rootfs):
    script = "echo FOO=$FOO BAR=$BAR HOME=$HOME TERM=$TERM"
    write_config(rootfs, oci(["/bin/sh", "-c", script],
                             env=["PATH=/bin", "FOO=config", "BAR=config", "HOME=/cfghome", "TERM=vt100"]))
    r = run(tmp_path, start(rootfs, ("set_env", 0, "[", "FOO=kernel", "HOME=/kernelhome", "]")))
    assert r.stdout == "FOO=kernel BAR=config HOME=/cfghome TERM=vt100\n"
    r = run(tmp_path, start(rootfs, ("set_env", 0, "[", "KRUN_HOME=/krunhome", "KRUN_TERM=dumb", "]")))
    assert r.stdout == "FOO=config BAR=config HOME=/krunhome TERM=dumb\n"
    write_config(rootfs, oci(["/bin/sh", "-c", script], env=["PATH=/bin"]))
    r = run(tmp_path, start(rootfs))
    assert r.stdout == "FOO= BAR= HOME=/ TERM=linux\n"  # what the kernel gives init


def test_set_exec_and_env_copy(tmp_path, rootfs):
    write_config(rootfs, oci(["/bin/echo", "from config"]))
    r = run(tmp_path, start(rootfs, ("set_exec", 0, "/bin/sh", "[", "-c", 'echo "$A|$B"', "]", "[", "A=x y", "]")))
    assert r.stdout == "x y|\n"
    # envp NULL: the caller's whole environment, as it is at the time of the call.
    r = run(tmp_path, [("setenv", "B", "copied")] +
            start(rootfs, ("set_exec", 0, "/bin/sh", "[", "-c", 'echo "$A|$B"', "]", "NULL")))
    assert r.stdout == "|copied\n"


def test_workdir(tmp_path, rootfs):
    write_config(rootfs, oci(["/bin/pwd"], cwd="/work"))
    assert run(tmp_path, start(rootfs)).stdout == "/work\n"
    assert run(tmp_path, start(rootfs, ("set_workdir", 0, "/tmp"))).stdout == "/tmp\n"
    write_config(rootfs, {"args": ["/bin/pwd"]})
    assert run(tmp_path, start(rootfs)).stdout == "/\n"


def test_rlimits(tmp_path, rootfs):
    write_config(rootfs, oci(["/bin/sh", "-c", "ulimit -n; ulimit -Hn"]))
    r = run(tmp_path, start(rootfs, ("set_rlimits", 0, "[", "7=64:128", "]")))
    assert r.stdout == "64\n128\n" and r.guest["rlimits"] == "7=64:128"


def test_hostname(tmp_path, rootfs):
    seq = [("create_ctx",), ("unshare-mnt",), ("unshare-uts",), ("mount-proc", rootfs / "proc"),
           ("chroot", rootfs), ("set_root", 0, "/"), ("start_enter", 0)]
    write_config(rootfs, oci(["/bin/hostname"], env=["PATH=/bin", "HOSTNAME=guesthost"]))
    r = run(tmp_path, seq)
    assert r.stdout == "guesthost\n" and r.guest["hostname_set"]
    write_config(rootfs, oci(["/bin/hostname"]))
    assert run(tmp_path, seq).stdout == "localhost\n"


def test_unreadable_config_loses_env_and_args(tmp_path, rootfs):
    seq = [("create_ctx",), ("chroot", rootfs), ("set_root", 0, "/"), ("setgid", 0, 1000), ("setuid", 0, 1000),
           ("start_enter", 0)]
    write_config(rootfs, oci(["/bin/sh", "-c", "echo $X; id -u"], env=["PATH=/bin", "X=read"]), mode=0o600)
    r = run(tmp_path, seq)
    assert r.rc == 0 and r.stdout == ""
    assert r.guest["config_status"] == "unreadable" and r.guest["argv"] == ["/bin/sh"]
    assert r.call("start_enter")["uid"] == 1000
    write_config(rootfs, oci(["/bin/sh", "-c", "echo $X; id -u"], env=["PATH=/bin", "X=read"]), mode=0o444)
    assert run(tmp_path, seq).stdout == "read\n1000\n"


def test_overlay_file_replaces_the_config(tmp_path, rootfs):
    write_config(rootfs, oci(["/bin/echo", "disk"]))
    overlay = json.dumps({"args": ["/bin/echo", "overlay"]})
    r = run(tmp_path, start(rootfs, ("fs_add_overlay_file", 0, "/dev/root", ".krun_config.json", overlay, 0o100444, 0)))
    assert r.stdout == "overlay\n"


def test_console_output(tmp_path, rootfs):
    out = tmp_path / "console.log"
    write_config(rootfs, oci(["/bin/sh", "-c", "echo out; echo err >&2"]))
    r = run(tmp_path, start(rootfs, ("set_console_output", 0, out)))
    assert r.rc == 0 and r.stdout == "" and out.read_text() == "out\nerr\n"


# ---- exit codes, signals, cleanup ------------------------------------------------------------


@pytest.mark.parametrize("args,code", [
    (["/bin/sh", "-c", "exit 42"], 42),
    (["/bin/sh", "-c", "kill -9 $$"], 128 + 9),
    (["/bin/no-such-program"], 127),
    (["/work/not-executable"], 126),
])
def test_exit_code_propagation(tmp_path, rootfs, args, code):
    (rootfs / "work" / "not-executable").write_text("#!/bin/sh\n")
    write_config(rootfs, oci(args))
    r = run(tmp_path, start(rootfs))
    assert r.rc == code
    assert r.call("start_enter")["ret"] is None  # never returned


def wait_for(path, proc):
    """Waits until the workload has written `path` (not a timing assertion: a readiness wait)."""
    deadline = time.monotonic() + 30
    while not (path.exists() and path.read_text().endswith("\n")):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"workload never got ready: {proc.communicate()}")
        time.sleep(0.05)


def spawn(tmp_path, ops):
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(FK / "default"),
           "FAKE_KRUN_LOG": str(tmp_path / "spawn.jsonl")}
    return subprocess.Popen([str(DRIVER)] + ops_argv(ops), env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def alive(pid):
    """Running or sleeping; a zombie waiting for its new parent to reap it counts as dead."""
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return st.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def test_sigint_reaches_the_guest(tmp_path, rootfs):
    write_config(rootfs, oci(["/bin/sh", "-c", "trap 'exit 7' INT; echo ready > /tmp/ready; while :; do sleep 0.05; done"]))
    proc = spawn(tmp_path, start(rootfs))
    try:
        wait_for(rootfs / "tmp" / "ready", proc)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 7
    finally:
        proc.kill()
        proc.communicate()


def test_sigterm_kills_the_vmm_and_the_guest_with_it(tmp_path, rootfs):
    write_config(rootfs, oci(["/bin/sh", "-c", "echo $$ > /tmp/pid; exec sleep 1000"]))
    proc = spawn(tmp_path, start(rootfs))
    try:
        wait_for(rootfs / "tmp" / "pid", proc)
        guest = int((rootfs / "tmp" / "pid").read_text())
        proc.send_signal(signal.SIGTERM)  # not relayed to the guest: the VMM just dies
        assert proc.wait(timeout=30) == -signal.SIGTERM
        deadline = time.monotonic() + 30
        while alive(guest) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(guest)
    finally:
        proc.kill()
        proc.communicate()


def test_processes_left_by_the_workload_die_with_the_vm(tmp_path, rootfs):
    write_config(rootfs, oci(["/bin/sh", "-c", "sleep 1000 & echo $! > /tmp/bg; exit 4"]))
    r = run(tmp_path, start(rootfs))
    assert r.rc == 4
    bg = int((rootfs / "tmp" / "bg").read_text())
    assert not Path(f"/proc/{bg}").exists()  # killed and reaped by the VMM before it exited
