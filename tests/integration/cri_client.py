"""A minimal client of the Kubernetes CRI (runtime.v1.RuntimeService) over
gRPC, enough to run a pod the way the kubelet does: sandbox, container,
start, status, exec, stop, remove. Messages are encoded by hand (the few
fields used here, with their field numbers from the CRI's api.proto), so
that no generated code or .proto file is needed; grpc comes from Debian's
python3-grpcio."""

import struct


# ---- protobuf wire format ----

def _varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(num, wire):
    return _varint((num << 3) | wire)


def enc(*fields):
    """Encode (number, value) pairs: int/bool as varint, str/bytes as length
    delimited, a list as repeated, dict as map<string,string>, and a nested
    message as bytes already encoded (wrap it with msg())."""
    out = bytearray()
    for num, val in fields:
        if val is None:
            continue
        vals = val if isinstance(val, list) else [val]
        for v in vals:
            if isinstance(v, bool) or isinstance(v, int):
                out += _key(num, 0) + _varint(int(v))
            elif isinstance(v, dict):
                for k, x in v.items():
                    entry = enc((1, k), (2, x))
                    out += _key(num, 2) + _varint(len(entry)) + entry
            else:
                b = v.encode() if isinstance(v, str) else bytes(v)
                out += _key(num, 2) + _varint(len(b)) + b
    return bytes(out)


def dec(data):
    """Decode one message level: {number: [values]} with varints as int and
    length-delimited fields as bytes (decode nested ones again)."""
    fields = {}
    i = 0
    while i < len(data):
        k, i = _read_varint(data, i)
        num, wire = k >> 3, k & 7
        if wire == 0:
            v, i = _read_varint(data, i)
        elif wire == 2:
            n, i = _read_varint(data, i)
            v, i = data[i:i + n], i + n
        elif wire == 1:
            v, i = struct.unpack("<q", data[i:i + 8])[0], i + 8
        elif wire == 5:
            v, i = struct.unpack("<i", data[i:i + 4])[0], i + 4
        else:
            raise ValueError("unsupported wire type %d" % wire)
        fields.setdefault(num, []).append(v)
    return fields


def _read_varint(data, i):
    shift = n = 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def first(fields, num, default=None):
    v = fields.get(num)
    return v[0] if v else default


def signed32(n):
    n &= (1 << 64) - 1
    return n - (1 << 64) if n >= 1 << 63 else n


# ---- the CRI ----

NAMESPACE_POD, NAMESPACE_CONTAINER, NAMESPACE_NODE = 0, 1, 2
CONTAINER_CREATED, CONTAINER_RUNNING, CONTAINER_EXITED, CONTAINER_UNKNOWN = 0, 1, 2, 3


class RuntimeService:
    def __init__(self, socket_path):
        import grpc
        self.channel = grpc.insecure_channel("unix://" + socket_path)

    def close(self):
        self.channel.close()

    def call(self, method, request, timeout=60):
        fn = self.channel.unary_unary("/runtime.v1.RuntimeService/" + method,
                                      request_serializer=lambda b: b,
                                      response_deserializer=lambda b: b)
        return dec(fn(request, timeout=timeout))

    def version(self):
        r = self.call("Version", enc((1, "v1")))
        return first(r, 2, b"").decode(), first(r, 3, b"").decode()

    @staticmethod
    def sandbox_config(name, uid, log_dir, annotations=None):
        # the host network (no CNI needed), so no hostname of its own, as the kubelet does
        ns_opts = enc((1, NAMESPACE_NODE), (2, NAMESPACE_CONTAINER), (3, NAMESPACE_POD))
        linux = enc((2, enc((1, ns_opts))))
        return enc((1, enc((1, name), (2, uid), (3, "default"), (4, 0))),
                   (3, log_dir), (7, annotations or {}), (8, linux))

    def run_pod_sandbox(self, config, handler):
        return first(self.call("RunPodSandbox", enc((1, config), (2, handler))), 1).decode()

    def create_container(self, sandbox_id, sandbox_config, name, image, command, log_path,
                         annotations=None):
        # a pid namespace of the container's own (not the pod's): its pid 1 is its process
        ns_opts = enc((1, NAMESPACE_NODE), (2, NAMESPACE_CONTAINER), (3, NAMESPACE_POD))
        linux = enc((2, enc((3, ns_opts))))
        cfg = enc((1, enc((1, name), (2, 0))), (2, enc((1, image))), (3, list(command)),
                  (11, log_path), (10, annotations or {}), (15, linux))
        r = self.call("CreateContainer", enc((1, sandbox_id), (2, cfg), (3, sandbox_config)))
        return first(r, 1).decode()

    def start_container(self, cid):
        self.call("StartContainer", enc((1, cid)))

    def container_status(self, cid):
        """(state, exit code, reason, message)"""
        st = dec(first(self.call("ContainerStatus", enc((1, cid))), 1, b""))
        return (first(st, 3, 0), signed32(first(st, 7, 0)), first(st, 10, b"").decode(),
                first(st, 11, b"").decode())

    def exec_sync(self, cid, cmd, timeout=30):
        r = self.call("ExecSync", enc((1, cid), (2, list(cmd)), (3, timeout)), timeout=timeout + 30)
        return first(r, 1, b"").decode(), first(r, 2, b"").decode(), signed32(first(r, 3, 0))

    def stop_container(self, cid, timeout=0):
        self.call("StopContainer", enc((1, cid), (2, timeout)))

    def remove_container(self, cid):
        self.call("RemoveContainer", enc((1, cid)))

    def stop_pod_sandbox(self, sid):
        self.call("StopPodSandbox", enc((1, sid)))

    def remove_pod_sandbox(self, sid):
        self.call("RemovePodSandbox", enc((1, sid)))
