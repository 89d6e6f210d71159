"""Faults between ranks of a "cncl" group: a rank that dies or hangs makes the others raise
within the group's timeout, naming the collective and its sequence number, and the device stays
usable; ranks whose collectives disagree raise at the call under TORCH_DISTRIBUTED_DEBUG=DETAIL
(as with NCCL, nothing checks them otherwise: gloo, the transport, aborts the process)."""

import os

import pytest

from distributed_support import finish, launch

PEER_FAILS = """
init(timeout=timedelta(seconds=TIMEOUT))
x = torch.ones(1024, device=mlu)
dist.all_reduce(x)  # connected
torch.mlu.synchronize()
if rank == 1:
    if FAULT == "dies":
        os._exit(3)
    time.sleep(3 * TIMEOUT)  # hangs
    os._exit(0)
start = time.monotonic()
y = torch.ones(8, device=mlu)
dist.all_reduce(y)  # returns: the failure belongs to the streams
try:
    checks["result"] = y.sum().item()
except RuntimeError as e:
    checks["error"] = str(e)
checks["seconds"] = time.monotonic() - start
try:  # the communication stream's own failure, raised once by a device synchronize
    torch.mlu.synchronize()
except RuntimeError as e:
    checks["synchronize"] = str(e)
torch.mlu.synchronize()
checks["device_works"] = (torch.arange(4.0, device=mlu) * 2).sum().item()
print(repr(checks), flush=True)
os._exit(0)  # the group's peer is gone: no orderly shutdown
"""


@pytest.mark.parametrize("fault", ["dies", "hangs"])
def test_a_failed_peer_raises_naming_the_collective(tmp_path, fault):
    timeout = 10
    procs = launch(tmp_path, f"TIMEOUT = {timeout}\nFAULT = {fault!r}\n" + PEER_FAILS)
    code, checks, err = finish(procs[:1], timeout=120)[0]
    procs[1].kill()  # a hanging rank would sleep on; nothing is checked in it
    procs[1].communicate()
    assert code == 0, err[-3000:]
    failed = "cncl:all_reduce (collective #2 of this process group, rank 0 of 2) failed"
    assert failed in checks["error"], checks
    assert failed in checks["synchronize"]
    assert "ranks that did not report failing in it within 3 s: 1" in checks["error"]
    assert ("Timed out" if fault == "hangs" else "Connection") in checks["error"]
    assert checks["seconds"] < 3 * timeout
    assert checks["device_works"] == 12.0


MISMATCH = """
init(timeout=timedelta(seconds=20))
try:
    dist.all_reduce(torch.ones(8 if rank == 0 else 16, device=mlu))
except RuntimeError as e:
    checks["shape"] = str(e)
try:
    dist.all_reduce(torch.ones(8, dtype=torch.float32 if rank == 0 else torch.float64,
                               device=mlu))
except RuntimeError as e:
    checks["dtype"] = str(e)
x = torch.full((2,), rank + 1.0, device=mlu)
dist.all_reduce(x)
checks["after"] = x.tolist()
dist.destroy_process_group()
"""


def test_mismatched_collectives_raise_under_distributed_debug(tmp_path):
    env = dict(os.environ, TORCH_DISTRIBUTED_DEBUG="DETAIL")
    for code, checks, err in finish(launch(tmp_path, MISMATCH, env=env)):
        assert code == 0, err[-3000:]
        assert "Detected mismatch between collectives on ranks" in checks["shape"]
        assert "Tensor Shapes" in checks["shape"] or "shape" in checks["shape"].lower()
        assert "Detected mismatch between collectives on ranks" in checks["dtype"]
        assert checks["after"] == [3.0, 3.0]


STORE_GONE = """
init_method = f"tcp://127.0.0.1:{PORT}"
dist.init_process_group("cncl", init_method=init_method, rank=rank, world_size=world_size,
                        timeout=timedelta(seconds=10))
dist.barrier()
if rank == 0:  # hosts the store
    os._exit(0)
time.sleep(1)
start = time.monotonic()
try:
    dist.new_group([0, 1])  # needs the store
except Exception as e:
    checks["error"] = f"{type(e).__name__}: {e}"
checks["seconds"] = time.monotonic() - start
print(repr(checks), flush=True)
os._exit(0)
"""


def test_a_store_that_disappears_raises(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = finish(launch(tmp_path, f"PORT = {port}\n" + STORE_GONE))
    code, checks, err = results[1]
    assert code == 0, err[-3000:]
    assert "error" in checks, checks
    assert checks["seconds"] < 30
