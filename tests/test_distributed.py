"""torch.distributed's collectives on mlu through the C++ "cncl" backend (csrc/cncl.cpp), between
two processes: every collective's values and dtypes, CPU tensors in the same group, each way of
choosing the backend, and the stream semantics of asynchronous collectives."""

import textwrap

import pytest
import torch

from distributed_support import run_ranks

COLLECTIVES = """
    init(**INIT)
    checks["backend"] = dist.get_backend()
    checks["mlu_backend"] = type(dist.group.WORLD._get_backend(mlu)).__name__

    def value(t):
        return t.float().cpu().tolist()

    for dtype in (torch.float32, torch.bfloat16, torch.float16, torch.int64):
        name = str(dtype).split(".")[1]
        x = torch.full((3,), rank + 1, dtype=dtype, device=mlu)
        dist.all_reduce(x)
        checks[f"all_reduce_{name}"] = (value(x), str(x.dtype))
        x = torch.tensor([rank * 10, 5 - rank], dtype=dtype, device=mlu)
        dist.all_reduce(x, op=dist.ReduceOp.MAX)
        checks[f"max_{name}"] = value(x)
        x = torch.tensor([rank * 10, 5 - rank], dtype=dtype, device=mlu)
        dist.all_reduce(x, op=dist.ReduceOp.MIN)
        checks[f"min_{name}"] = value(x)
        x = torch.tensor([rank + 2, 3], dtype=dtype, device=mlu)
        dist.all_reduce(x, op=dist.ReduceOp.PRODUCT)
        checks[f"product_{name}"] = value(x)
    for op in ("BAND", "BOR", "BXOR"):
        x = torch.tensor([0b1100 if rank == 0 else 0b1010], dtype=torch.int32, device=mlu)
        dist.all_reduce(x, op=getattr(dist.ReduceOp, op))
        checks[op] = x.item()
    x = torch.tensor([rank * 4.0, 1.0], device=mlu)
    dist.all_reduce(x, op=dist.ReduceOp.AVG)
    checks["avg"] = value(x)
    x = torch.tensor([rank + 1.0], device=mlu)
    dist.all_reduce(x, op=dist._make_nccl_premul_sum(0.5))
    checks["premul_sum"] = value(x)
    x = torch.tensor([rank + 1.0], device=mlu)
    dist.all_reduce(x, op=dist._make_nccl_premul_sum(torch.tensor([3.0], device=mlu)))
    checks["premul_sum_tensor"] = value(x)
    try:
        dist.all_reduce(torch.ones(2, dtype=torch.int64, device=mlu), op=dist.ReduceOp.AVG)
    except (RuntimeError, ValueError) as e:
        checks["avg_int_error"] = str(e)

    x = torch.full((2,), float(rank), device=mlu)
    dist.broadcast(x, src=1)
    checks["broadcast"] = value(x)
    if INIT["backend"] == "cncl":  # complex CPU tensors (mlu has no complex dtypes yet)
        z = torch.tensor([1 + 2j, rank * 1j], dtype=torch.complex64)
        dist.all_reduce(z)
        checks["complex_all_reduce"] = z.tolist()
        z = torch.tensor([rank + 1j], dtype=torch.complex64)
        dist.broadcast(z, src=1)
        checks["complex_broadcast"] = z.tolist()
    # 16-bit floats through every kind of collective.
    h = torch.full((2,), rank + 0.25, dtype=torch.float16, device=mlu)
    dist.broadcast(h, src=1)
    checks["half_broadcast"] = value(h)
    out = torch.empty(2, dtype=torch.bfloat16, device=mlu)
    dist.reduce_scatter_tensor(out, torch.arange(4, dtype=torch.bfloat16, device=mlu) * (rank + 1),
                               op=dist.ReduceOp.AVG)
    checks["bf16_reduce_scatter_avg"] = value(out)
    out = torch.empty(2, dtype=torch.float16, device=mlu)
    dist.all_to_all_single(out, torch.tensor([10.0, 11.0], dtype=torch.float16, device=mlu) + 2 * rank)
    checks["half_all_to_all"] = value(out)
    out = torch.empty(3, dtype=torch.bfloat16, device=mlu)
    dist.all_to_all_single(out, torch.arange(3.0, device=mlu).bfloat16() + 10 * rank,
                           [1, 2] if rank == 0 else [2, 1], [1, 2] if rank == 0 else [2, 1])
    checks["bf16_all_to_all_uneven"] = value(out)
    x = torch.full((2,), rank + 2.0, device=mlu)
    dist.reduce(x, dst=1)
    checks["reduce"] = value(x)
    x = torch.full((1,), rank * 6.0, device=mlu)
    dist.reduce(x, dst=0, op=dist.ReduceOp.AVG)
    checks["reduce_avg"] = value(x)

    parts = [torch.empty(2, dtype=torch.bfloat16, device=mlu) for _ in range(2)]
    dist.all_gather(parts, torch.full((2,), rank + 0.5, dtype=torch.bfloat16, device=mlu))
    checks["all_gather"] = [value(p) for p in parts]
    flat = torch.empty(2, 2, device=mlu)
    dist.all_gather_into_tensor(flat, torch.arange(2.0, device=mlu) + 2 * rank)
    checks["all_gather_into_tensor"] = value(flat)
    outs = [torch.empty(2, device=mlu), torch.empty(4, device=mlu)]
    with dist._coalescing_manager(device=mlu, async_ops=True) as cm:
        dist.all_gather_into_tensor(outs[0], torch.full((1,), rank + 1.0, device=mlu))
        dist.all_gather_into_tensor(outs[1], torch.full((2,), rank + 5.0, device=mlu))
    cm.wait()
    checks["all_gather_coalesced"] = [value(o) for o in outs]
    gathered = [torch.empty(1, device=mlu) for _ in range(2)] if rank == 0 else None
    dist.gather(torch.full((1,), rank + 4.0, device=mlu), gathered, dst=0)
    checks["gather"] = [value(t) for t in gathered] if rank == 0 else None
    out = torch.empty(2, device=mlu)
    sources = [torch.full((2,), 20.0 + r, device=mlu) for r in range(2)] if rank == 1 else None
    dist.scatter(out, sources, src=1)
    checks["scatter"] = value(out)

    out = torch.empty(2, device=mlu)
    dist.reduce_scatter_tensor(out, torch.arange(4.0, device=mlu) * (rank + 1))
    checks["reduce_scatter_tensor"] = value(out)
    out = torch.empty(1, device=mlu)
    dist.reduce_scatter_tensor(out, torch.tensor([1.0, 3.0], device=mlu) * (rank + 1),
                               op=dist.ReduceOp.AVG)
    checks["reduce_scatter_tensor_avg"] = value(out)
    out = torch.empty(2, device=mlu)
    dist.reduce_scatter(out, [torch.full((2,), 1.0 + r + rank, device=mlu) for r in range(2)])
    checks["reduce_scatter"] = value(out)

    out = torch.empty(2, device=mlu)
    dist.all_to_all_single(out, torch.tensor([10.0, 11.0], device=mlu) + 2 * rank)
    checks["all_to_all_single"] = value(out)
    # Uneven: rank r sends r + 1 elements to rank 0 and 1 to rank 1.
    send_splits = [rank + 1, 1]
    recv_splits = [1, 2] if rank == 0 else [1, 1]
    inp = torch.arange(float(sum(send_splits)), device=mlu) + 100 * rank
    out = torch.empty(sum(recv_splits), device=mlu)
    dist.all_to_all_single(out, inp, recv_splits, send_splits)
    checks["all_to_all_uneven"] = value(out)
    outs = [torch.empty(1 + r, device=mlu) for r in range(2)]
    dist.all_to_all(outs, [torch.full((1 + rank,), 10.0 * rank + r, device=mlu) for r in range(2)])
    checks["all_to_all"] = [value(o) for o in outs]

    if rank == 0:
        dist.send(torch.tensor([7.0, 8.0], device=mlu), dst=1)
        dist.send(torch.tensor([9.0], device=mlu), dst=1)
    else:
        got = torch.zeros(2, device=mlu)
        dist.recv(got, src=0)
        checks["recv"] = value(got)
        got = torch.zeros(1, device=mlu)
        checks["recv_any_source"] = dist.recv(got)  # no source: any rank's
        checks["recv_any"] = value(got)
    peer = 1 - rank
    out = torch.zeros(3, device=mlu)
    ops = [dist.P2POp(dist.isend, torch.full((3,), rank + 1.0, device=mlu), peer),
           dist.P2POp(dist.irecv, out, peer)]
    for work in dist.batch_isend_irecv(ops):
        work.wait()
    # A P2POp holds its group. A group alive past destroy_process_group keeps its gloo workers
    # running into interpreter shutdown, where one freeing a finished CPU collective's tensor takes
    # the GIL and aborts the process (PyTorch 2.15 with plain gloo too: pytorch/pytorch#179291).
    del ops, work
    checks["batch_isend_irecv"] = value(out)

    cpu = torch.full((2,), rank + 1.0)  # CPU tensors in the same group
    try:
        dist.all_reduce(cpu)
        checks["cpu_all_reduce"] = cpu.tolist()
    except RuntimeError as e:
        checks["cpu_all_reduce"] = str(e)
    dist.barrier()
    # The backend's own: dist.monitored_barrier asks the group's CPU backend (gloo only on 2.6).
    dist.group.WORLD._get_backend(mlu).monitored_barrier(timedelta(seconds=30))
    checks["sequence"] = dist.group.WORLD._get_backend(mlu).sequence
    dist.destroy_process_group()
"""

INITS = {
    "cncl": "{'backend': 'cncl'}",
    "device_id": "{'backend': None, 'device_id': mlu}",
    "no_backend": "{'backend': None}",
    "cpu_gloo_mlu_cncl": "{'backend': 'cpu:gloo,mlu:cncl'}",
}


@pytest.mark.parametrize("how", INITS)
def test_every_collective_between_two_processes(tmp_path, how):
    r0, r1 = run_ranks(tmp_path, f"INIT = {INITS[how]}\n" + textwrap.dedent(COLLECTIVES))
    for rank, r in enumerate((r0, r1)):
        assert r["mlu_backend"] == "CnclBackend"
        for name in ("float32", "bfloat16", "float16", "int64"):
            values, dtype = r[f"all_reduce_{name}"]
            assert values == [3.0, 3.0, 3.0] and dtype == f"torch.{name}"
            assert r[f"max_{name}"] == [10.0, 5.0] and r[f"min_{name}"] == [0.0, 4.0]
            assert r[f"product_{name}"] == [6.0, 9.0]
        assert (r["BAND"], r["BOR"], r["BXOR"]) == (0b1000, 0b1110, 0b0110)
        assert r["avg"] == [2.0, 1.0]
        assert r["premul_sum"] == [1.5] and r["premul_sum_tensor"] == [9.0]
        assert "AVG needs floating-point tensors" in r["avg_int_error"]
        assert r["broadcast"] == [1.0, 1.0]
        if how == "cncl":
            assert r["complex_all_reduce"] == [2 + 4j, 1j] and r["complex_broadcast"] == [1 + 1j]
        assert r["half_broadcast"] == [1.25, 1.25]
        assert r["all_gather"] == [[0.5, 0.5], [1.5, 1.5]]
        assert r["all_gather_into_tensor"] == [[0.0, 1.0], [2.0, 3.0]]
        assert r["all_gather_coalesced"] == [[1.0, 2.0], [5.0, 5.0, 6.0, 6.0]]
        assert r["batch_isend_irecv"] == [2.0 - rank] * 3
        if how != "no_backend":  # device_id names the device's backend: cncl, CPU included
            assert r["cpu_all_reduce"] == [3.0, 3.0]
        else:  # as with CUDA: without a backend named, PyTorch makes one for the accelerator only
            assert "No backend type associated with device type cpu" in r["cpu_all_reduce"]
        # Every collective above counted once, the same on both ranks.
        assert r["sequence"] > 30 and r["sequence"] == r0["sequence"]
    assert r1["reduce"] == [5.0, 5.0] and r0["reduce_avg"] == [3.0]
    assert r0["gather"] == [[4.0], [5.0]]
    assert r0["scatter"] == [20.0, 20.0] and r1["scatter"] == [21.0, 21.0]
    assert r0["reduce_scatter_tensor"] == [0.0, 3.0] and r1["reduce_scatter_tensor"] == [6.0, 9.0]
    assert r0["reduce_scatter_tensor_avg"] == [1.5] and r1["reduce_scatter_tensor_avg"] == [4.5]
    assert r0["bf16_reduce_scatter_avg"] == [0.0, 1.5] and r1["bf16_reduce_scatter_avg"] == [3.0, 4.5]
    assert r0["half_all_to_all"] == [10.0, 12.0] and r1["half_all_to_all"] == [11.0, 13.0]
    # rank 0 sends [0] to itself and [1, 2] to rank 1; rank 1 sends [10, 11] to 0 and [12] to 1
    assert r0["bf16_all_to_all_uneven"] == [0.0, 10.0, 11.0]
    assert r1["bf16_all_to_all_uneven"] == [1.0, 2.0, 12.0]
    assert r0["reduce_scatter"] == [3.0, 3.0] and r1["reduce_scatter"] == [5.0, 5.0]
    assert r0["all_to_all_single"] == [10.0, 12.0] and r1["all_to_all_single"] == [11.0, 13.0]
    assert r0["all_to_all_uneven"] == [0.0, 100.0, 101.0] and r1["all_to_all_uneven"] == [1.0, 102.0]
    assert r0["all_to_all"] == [[0.0], [10.0, 10.0]] and r1["all_to_all"] == [[1.0], [11.0, 11.0]]
    assert r1["recv"] == [7.0, 8.0]
    assert r1["recv_any"] == [9.0] and r1["recv_any_source"] == 0
    expected_backend = {"cncl": "cncl", "cpu_gloo_mlu_cncl": "cpu:gloo,mlu:cncl"}
    if how in expected_backend:
        assert r0["backend"] == expected_backend[how]


ASYNC = """
    init()
    long_us = 400_000
    # Returns while the producer is still queued; the collective follows it.
    x = torch.zeros(1024, device=mlu)
    torch_mlu._C._sleep(long_us)
    x.fill_(rank + 1.0)
    start = time.monotonic()
    work = dist.all_reduce(x, async_op=True)
    checks["returned_before_producer"] = not work.is_completed()
    # wait() orders this stream after the collective; consumers see the reduced values.
    work.wait()
    checks["consumer"] = (x * 2).sum().item()
    checks["ordered_total_s"] = time.monotonic() - start

    # wait() does not block the host: rank 1 joins late.
    dist.barrier()
    if rank == 1:
        time.sleep(long_us / 1e6)
    y = torch.full((4,), rank + 1.0, device=mlu)
    work = dist.all_reduce(y, async_op=True)
    work.wait()
    checks["host_free_after_wait"] = rank == 1 or not work.is_completed()
    checks["after_join"] = y.tolist()
    # get_future(): DDP's comm hooks chain on it; its value is ready where the stream waits.
    z = torch.full((2,), rank + 1.0, device=mlu)
    future = dist.all_reduce(z, async_op=True).get_future().then(lambda f: f.value()[0] * 10)
    checks["future"] = future.wait().tolist()

    # The operand's memory is not handed to other work before the collective is done.
    dist.barrier()
    if rank == 1:
        time.sleep(long_us / 1e6)
    a = torch.full((1 << 18,), rank + 1.0, device=mlu)
    pointer = a.data_ptr()
    work = dist.all_reduce(a, async_op=True)
    del a
    b = torch.empty(1 << 18, device=mlu)
    checks["memory_kept"] = rank == 1 or b.data_ptr() != pointer
    work.wait()
    torch.mlu.synchronize()

    # barrier(), as NCCL's: the work queued before it is done after it.
    torch_mlu._C._sleep(long_us // 4)
    dist.barrier()
    checks["barrier_waited"] = torch.mlu.current_stream().query()
    dist.destroy_process_group()
"""


def test_collectives_are_stream_ordered_and_asynchronous(tmp_path):
    for rank, r in enumerate(run_ranks(tmp_path, ASYNC)):
        assert r["returned_before_producer"]
        assert r["consumer"] == 3.0 * 2 * 1024
        assert r["host_free_after_wait"] and r["after_join"] == [3.0] * 4
        assert r["future"] == [30.0, 30.0]
        assert r["memory_kept"]
        assert r["barrier_waited"]


BAD_ARGUMENTS = """
    init()
    dist.all_reduce(torch.ones(1, device=mlu))  # its device is the group's from now on
    import traceback
    def error(f):
        try:
            f()
        except (RuntimeError, ValueError) as e:
            return str(e).splitlines()[0]
        return None
    checks["gather_size"] = error(lambda: dist.all_gather_into_tensor(
        torch.empty(3, device=mlu), torch.ones(2, device=mlu)))
    checks["scatter_dtype"] = error(lambda: dist.reduce_scatter_tensor(
        torch.empty(1, device=mlu), torch.ones(2, dtype=torch.float64, device=mlu)))
    checks["splits"] = error(lambda: dist.all_to_all_single(
        torch.empty(2, device=mlu), torch.ones(2, device=mlu), [1, 1], [3, 1]))
    checks["strided"] = error(lambda: dist.all_reduce(torch.ones(4, 4, device=mlu)[:, 1]))
    checks["two_devices"] = error(lambda: dist.all_reduce(
        torch.ones(1, device=torch.device("mlu", 1 - mlu.index))))
    checks["mixed"] = error(lambda: dist.all_gather(
        [torch.empty(1), torch.empty(1)], torch.ones(1, device=mlu)))
    checks["half_transposed"] = error(lambda: dist.broadcast(
        torch.ones(2, 3, dtype=torch.bfloat16, device=mlu).t(), src=0))
    # (all_reduce refuses this itself; reduce_scatter_tensor leaves it to the backend)
    checks["complex_max"] = error(lambda: dist.reduce_scatter_tensor(
        torch.empty(1, dtype=torch.complex64), torch.ones(2, dtype=torch.complex64),
        op=dist.ReduceOp.MAX))
    checks["negative_split"] = error(lambda: dist.all_to_all_single(
        torch.empty(2, device=mlu), torch.ones(2, device=mlu), [3, -1], [1, 1]))
    checks["reduce_scatter_count"] = error(lambda: dist.reduce_scatter(
        torch.empty(2, device=mlu), [torch.ones(2, device=mlu)] * 3))
    checks["sleep_range"] = error(lambda: torch_mlu._C._sleep(-1))
    # Still usable.
    x = torch.full((2,), rank + 1.0, device=mlu)
    dist.all_reduce(x)
    checks["after"] = x.tolist()
    dist.destroy_process_group()
"""


def test_bad_arguments_raise_at_the_call_and_the_group_stays_usable(tmp_path):
    if torch.mlu.device_count() < 2:
        pytest.skip("needs two mlu devices (MLU_DEVICE_COUNT)")
    for r in run_ranks(tmp_path, BAD_ARGUMENTS):
        assert "needs a tensor of 2 x 2 elements" in r["gather_size"]
        assert "share one dtype" in r["scatter_dtype"]
        assert "split sizes sum to 4" in r["splits"]
        assert "call .contiguous() first" in r["strided"]
        assert "one device per process" in r["two_devices"]
        assert "both mlu and CPU tensors" in r["mixed"]
        assert "need a last dimension of stride 1" in r["half_transposed"]
        assert "reduces complex tensors only by SUM" in r["complex_max"]
        assert "negative split size -1" in r["negative_split"]
        assert "needs one input per rank (2), got 3" in r["reduce_scatter_count"]
        assert "microseconds must be in [0, 60000000], got -1" in r["sleep_range"]
        assert r["after"] == [3.0, 3.0]


GLOO_GROUP_ON_MLU = """
init("gloo")
dist.barrier(device_ids=[rank])  # accelerate's wait_for_everyone, on CPU groups too
total = torch.ones(2) * (rank + 1)
dist.all_reduce(total)
checks["cpu sum"] = total.tolist()
try:
    dist.all_reduce(torch.ones(2, device=mlu))
except Exception as error:
    checks["mlu refused"] = str(error)
dist.destroy_process_group()
"""


def test_a_gloo_group_answers_barriers_with_mlu_device_ids(tmp_path):
    for rank, r in enumerate(run_ranks(tmp_path, GLOO_GROUP_ON_MLU)):
        assert r["cpu sum"] == [3.0, 3.0]
        assert "unsupported device type mlu" in r["mlu refused"], r


# A group destroyed right after CPU collectives: a gloo worker may still be releasing a finished
# collective's tensors, which needs the GIL, while the backend's destructor joins that worker.
# Destroying it with the GIL held deadlocked (every run on PyTorch 2.6; on 2.15 1 run in 10 of
# the collectives test above, under load).
DESTROYED_AFTER_CPU_COLLECTIVES = """
    for round in range(40):
        dist.init_process_group("cncl", init_method=f"file://{store_path}-{round}", rank=rank,
                                world_size=world_size, device_id=mlu,
                                timeout=timedelta(seconds=60))
        for _ in range(3):
            dist.all_reduce(torch.full((64,), rank + 1.0))
        dist.destroy_process_group()
    checks["rounds"] = round + 1
"""


def test_destroying_a_group_right_after_cpu_collectives_does_not_deadlock(tmp_path):
    for r in run_ranks(tmp_path, DESTROYED_AFTER_CPU_COLLECTIVES, timeout=150):
        assert r["rounds"] == 40
