"""torch.compile's default backend, Inductor, on mlu (torch_mlu/_inductor.py): generated kernels
run on the current stream, in order with eager work, with the results and gradients of eager mode.
"""

import gc
import pathlib
import re
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch._inductor import metrics

import torch_mlu  # noqa: F401
from torch_mlu import _C
from reliability_support import raises_then_usable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
import workloads  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    metrics.reset()
    yield
    torch._dynamo.reset()


def pointwise_and_reduction(x, y):
    return (x.sin() * y + 1).relu().sum(-1), torch.softmax(x * 2, -1)


def test_default_compile_generates_mlu_kernels_that_match_eager():
    x, y = torch.randn(6, 33, device="mlu"), torch.randn(6, 33, device="mlu")
    compiled = torch.compile(pointwise_and_reduction)(x, y)
    assert metrics.generated_kernel_count >= 1
    before = torch.mlu.kernel_launches()
    torch.compile(pointwise_and_reduction)(x, y)
    compiled_launches = torch.mlu.kernel_launches() - before
    pointwise_and_reduction(x, y)
    eager_launches = torch.mlu.kernel_launches() - before - compiled_launches
    assert 1 <= compiled_launches < eager_launches, (compiled_launches, eager_launches)
    for got, want in zip(compiled, pointwise_and_reduction(x, y)):
        assert got.device.type == "mlu"
        torch.testing.assert_close(got, want)


def test_generated_kernels_queue_behind_eager_work_without_synchronizing():
    a = torch.randn(1536, 1536, device="mlu")
    f = torch.compile(lambda t: (t * 2).sum(0) + 1)
    f(a)
    torch.mlu.synchronize()
    stream = torch.mlu.Stream()
    with torch.mlu.stream(stream):
        _C._sleep(2_000_000)  # two seconds of device work, however loaded the host
        slow = (a @ a @ a).tanh()
        out = f(slow)
        assert not stream.query(), "the compiled call waited for the device"
    stream.synchronize()
    torch.testing.assert_close(out, (slow * 2).sum(0) + 1, rtol=1e-4, atol=1e-3)


@pytest.mark.skipif(torch.mlu.device_count() < 2, reason="needs a second mlu device")
def test_kernels_run_on_the_device_of_their_tensors():
    f = torch.compile(lambda t: (t * 3).cos().sum(-1))
    for device in ("mlu:1", "mlu:0"):
        x = torch.randn(4, 9, device=device)
        out = f(x)
        assert out.device == x.device
        torch.testing.assert_close(out, (x * 3).cos().sum(-1))
    assert torch.mlu.current_device() == 0


def test_cpu_graphs_still_compile_for_the_cpu():
    x = torch.randn(5, 7)
    f = torch.compile(lambda t: (t.exp() + 1).log().mean(0))
    torch.testing.assert_close(f(x), (x.exp() + 1).log().mean(0))


def test_cpu_scalars_read_by_kernels_are_taken_when_called():
    scale = torch.tensor(3.0)
    x = torch.randn(64, device="mlu")
    f = torch.compile(lambda t, s: (t * s).exp())
    torch.testing.assert_close(f(x, scale), (x * 3).exp())
    stream = torch.mlu.current_stream()
    big = torch.randn(1536, 1536, device="mlu")
    slow = big @ big  # keeps the queue busy while the host changes the scalar
    out = f(x + slow[0, :64] * 0, scale)
    scale.fill_(100.0)
    stream.synchronize()
    torch.testing.assert_close(out, (x * 3).exp())


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 4 * 4, 10)
        self.norm = nn.LayerNorm(10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.norm(F.gelu(self.fc(h.flatten(1))))


def pair(seed=0):
    torch.manual_seed(seed)
    eager = SmallNet().to("mlu")
    compiled = SmallNet().to("mlu")
    compiled.load_state_dict(eager.state_dict())
    return eager, compiled


@pytest.mark.parametrize("optimizer", [torch.optim.SGD, torch.optim.AdamW])
def test_training_steps_match_eager_with_a_compiled_optimizer(optimizer):
    eager, model = pair()
    opt_eager = optimizer(eager.parameters(), lr=0.05)
    opt = optimizer(model.parameters(), lr=0.05)
    compiled, step = torch.compile(model), torch.compile(opt.step)
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        x = torch.randn(4, 3, 8, 8, generator=g).to("mlu")
        y = torch.randint(0, 10, (4,), generator=g).to("mlu")
        for net, o, run in ((eager, opt_eager, eager.forward), (model, opt, None)):
            o.zero_grad()
            loss = F.cross_entropy((compiled if run is None else run)(x), y)
            loss.backward()
            step() if run is None else o.step()
        for (name, p), q in zip(eager.named_parameters(), model.parameters()):
            # The convolution's bias feeds a batch norm: its gradient is rounding noise, which
            # AdamW's normalisation amplifies; its value is compared under SGD only.
            if optimizer is torch.optim.AdamW and name == "conv.bias":
                continue
            torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5, msg=name)
    state = opt.state[model.fc.weight]
    for key, value in opt_eager.state[eager.fc.weight].items():
        torch.testing.assert_close(state[key], value, rtol=1e-4, atol=1e-6)


def test_dynamic_shapes_pass_sizes_to_the_kernels():
    f = torch.compile(lambda t: (t * t).sum(-1) / t.shape[-1], dynamic=True)
    for n in (5, 9, 17):
        x = torch.randn(3, n, device="mlu")
        torch.testing.assert_close(f(x), (x * x).sum(-1) / n)


def test_a_new_batch_size_recompiles_and_stays_correct():
    counter = torch._dynamo.testing.CompileCounterWithBackend("inductor")
    model = torch.compile(nn.Sequential(nn.Linear(8, 16), nn.Tanh()).to("mlu"), backend=counter)
    for batch in (2, 2, 7):
        x = torch.randn(batch, 8, device="mlu")
        torch.testing.assert_close(model(x), model._orig_mod(x))
    assert counter.frame_count >= 2


def test_graph_breaks_and_fullgraph():
    def with_break(x):
        y = x.cos() + 1
        print("graph break", end="")
        return (y * x).sum()

    x = torch.randn(10, device="mlu")
    torch.testing.assert_close(torch.compile(with_break)(x), with_break(x))
    f = torch.compile(lambda t: (t.cos() + 1) * t, fullgraph=True)
    torch.testing.assert_close(f(x), (x.cos() + 1) * x)


def test_autocast_inside_the_compiled_function():
    a, b = torch.randn(16, 32, device="mlu"), torch.randn(32, 8, device="mlu")

    def f(x, y):
        with torch.autocast("mlu", dtype=torch.bfloat16):
            return torch.relu(x @ y) + 1

    got = torch.compile(f)(a, b)
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got, f(a, b))


def test_freezing_folds_inference_weights():
    model = SmallNet().to("mlu").eval()
    x = torch.randn(2, 3, 8, 8, device="mlu")
    with torch.no_grad(), torch._inductor.config.patch(freezing=True):
        got = torch.compile(model)(x)
    with torch.no_grad():
        torch.testing.assert_close(got, model(x), rtol=1e-4, atol=1e-5)


def test_mlu_convolutions_keep_their_layout():
    """Inductor's channels-last conversion (its layout optimisation) stays off for graphs with
    mlu convolutions unless forced, and is unchanged for the CPU."""
    from torch._inductor.graph import GraphLowering
    from torch.fx.experimental.proxy_tensor import make_fx

    def decision(device, **patch):
        gm = make_fx(lambda x, w: F.conv2d(x, w, padding=1).relu(), tracing_mode="fake")(
            torch.randn(2, 128, 4, 4, device=device), torch.randn(128, 128, 3, 3, device=device))
        with torch._inductor.config.patch(patch):
            return GraphLowering.decide_layout_opt(gm, is_inference=False)

    assert decision("mlu") is False
    assert decision("mlu", force_layout_optimization=True) is True
    assert decision("cpu") is torch.backends.mkldnn.is_available()


def test_max_pool_runs_the_library_kernels():
    from torch._inductor.decomposition import select_decomp_table
    from torch._inductor.utils import run_and_get_code

    x = torch.randn(2, 3, 9, 9, device="mlu", requires_grad=True)

    def loss(t):
        return (F.max_pool2d(t.relu(), 3, stride=2, padding=1) * 2).sum()

    got, code = run_and_get_code(lambda: torch.autograd.grad(torch.compile(loss)(x), x)[0])
    torch.testing.assert_close(got, torch.autograd.grad(loss(x), x)[0])
    assert any("aten.max_pool2d_with_indices.default" in c for c in code)
    assert not any("low_memory_max_pool" in c for c in code)
    # Newer Inductors (2.14) decompose the backward into a scatter before lowering.
    decomposed = torch.ops.aten.max_pool2d_with_indices_backward.default in select_decomp_table()
    assert decomposed or any("aten.max_pool2d_with_indices_backward" in c for c in code)


def test_cpu_max_pool_is_still_generated():
    from torch._inductor.utils import run_and_get_code

    x = torch.randn(2, 3, 9, 9)
    got, code = run_and_get_code(torch.compile(lambda t: F.max_pool2d(t, 3, 2, 1) + 1), x)
    torch.testing.assert_close(got, F.max_pool2d(x, 3, 2, 1) + 1)
    assert not any("aten.max_pool2d_with_indices.default(" in c for c in code)


def test_concatenation_copies_into_slices():
    """mlu kernels follow Inductor's C++ heuristics: a cat of inputs that each need a kernel is
    copied into the output's slices, not computed by one loop choosing each element's input
    through masked loads (which Inductor's C++ code leaves scalar)."""
    from torch._inductor.utils import run_and_get_code

    def f(a, b, c):
        return torch.cat([a.transpose(1, 2), b.transpose(1, 2), c.transpose(1, 2)], 2)

    args = [torch.randn(4, 5, 6, device="mlu") for _ in range(3)]
    got, code = run_and_get_code(torch.compile(f), *args)
    torch.testing.assert_close(got, f(*args))
    kernels = "".join(code)
    assert "cpp_fused" in kernels and "[&]" not in kernels


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_accumulating_stores_add_repeated_indices(dtype):
    """Embedding's gradient and index_put(accumulate=True) add every row sent to the same index
    (14 on average here): PyTorch 2.6's vectorised single-threaded C++ stores overwrote contiguous
    rows instead (such kernels are single-threaded on mlu). Compared with float32 eager on the
    same values (bfloat16 sums round at each addition or once, by path)."""
    torch.manual_seed(0)
    weight = torch.randn(50, 24, device="mlu", dtype=dtype, requires_grad=True)
    indices = torch.randint(0, 50, (35, 20), device="mlu")  # 700 lookups of 50 rows
    grad = torch.randn(35, 20, 24, device="mlu", dtype=dtype)
    tolerance = {"atol": 0.1, "rtol": 0.02} if dtype == torch.bfloat16 else {}

    def lookup(weight, indices):
        return F.embedding(indices, weight) * 2

    def accumulate(target, indices, rows):
        return target.index_put((indices,), rows, accumulate=True)

    reference = weight.detach().float().requires_grad_()
    lookup(reference, indices).backward(grad.float())
    torch.compile(lookup)(weight, indices).backward(grad)
    torch.testing.assert_close(weight.grad, reference.grad.to(dtype), **tolerance)

    from torch._inductor.utils import run_and_get_code

    target = torch.zeros(50, 24, device="mlu", dtype=dtype)
    rows, flat = grad.reshape(700, 24), indices.reshape(700)
    expected = accumulate(target.float(), flat, rows.float()).to(dtype)
    got, code = run_and_get_code(torch.compile(accumulate), target, flat, rows)
    torch.testing.assert_close(got, expected, **tolerance)
    # Generated for one thread: loads and adds, not compare-and-swap loops.
    assert "cpp_fused" in "".join(code) and "atomic_add" not in "".join(code)


def test_a_costly_value_used_twice_is_computed_once():
    from torch._inductor.utils import run_and_get_code

    def f(a):
        e = (a * 3).exp()
        return e + e.sum()

    x = torch.randn(64, 64, device="mlu")
    got, code = run_and_get_code(torch.compile(f), x)
    torch.testing.assert_close(got, f(x))
    assert len(re.findall(r"\.exp(?:_u20)?\(\)|std::exp\(", "".join(code))) == 1


def test_mlu_backend_name_is_the_same_compiler():
    x = torch.randn(7, 5, device="mlu")
    f = torch.compile(lambda t: t.tanh() * 3, backend="mlu")
    torch.testing.assert_close(f(x), x.tanh() * 3)
    assert metrics.generated_kernel_count >= 1


def test_generated_code_is_cached_across_processes(tmp_path, run_py):
    script = """
import torch, torch_mlu
from torch._dynamo.utils import counters
f = torch.compile(lambda t: (t.sin() + 2).sum(0))
x = torch.arange(12.0, device="mlu").reshape(3, 4)
torch.testing.assert_close(f(x), (x.sin() + 2).sum(0))
print("hits", counters["inductor"]["fxgraph_cache_hit"])
"""
    for hits in (0, 1):
        result = run_py(script, timeout=300, TORCHINDUCTOR_CACHE_DIR=str(tmp_path))
        assert result.stdout.strip().endswith(f"hits {hits}"), result
    # The key names this build of torch_mlu, after the user's own tag: a graph compiled by
    # another build is compiled again.
    tagged = run_py(script + "print(torch.compiler.config.cache_key_tag)\n", timeout=300,
                    TORCHINDUCTOR_CACHE_DIR=str(tmp_path), TORCH_COMPILE_CACHE_KEY_TAG="mine")
    assert tagged.stdout.split()[-3:-1] == ["hits", "0"], tagged
    assert tagged.stdout.split()[-1].startswith("mine+torch_mlu-"), tagged


# --- parallel regions on the device's cores ---------------------------------------------------

def rows_and_columns(x, w):
    y = F.gelu(x * 2 + 1)
    return F.layer_norm(y, (x.shape[-1],), w), y.sum(0), y.sum(), (y * x).amax(1)


@pytest.mark.parametrize("shape", [(512, 128), (64, 4096), (3, 100003)])
def test_parallel_loops_match_eager(shape):
    """Loops with enough work for the kernel threads are OpenMP regions (pointwise, sums across
    rows and columns, layer norms' Welford reductions, single blocks), run on the device's cores
    with the results of eager mode."""
    from torch._inductor.utils import run_and_get_code

    x, w = torch.randn(*shape, device="mlu"), torch.randn(shape[-1], device="mlu")
    got, code = run_and_get_code(torch.compile(rows_and_columns), x, w)
    parallel = _C._operations_info()["threads"] > 1
    assert ("#pragma omp parallel" in "".join(code)) == parallel
    for a, b in zip(got, rows_and_columns(x, w)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-3)


TEAM_TYPES = ["const float*", "float*", "float*", "float*", "const int64_t"]
TEAM_SOURCE = """
#include <cstdint>
#include <omp.h>
extern "C" void kernel(const float* in, float* mid, float* out, float* totals, const int64_t n) {
  float partial[2] = {0, 0};
  #pragma omp parallel num_threads(2)
  {
    int tid = omp_get_thread_num();
    #pragma omp for
    for (int64_t i = 0; i < n; i += 1) mid[i] = in[i] * 2;
    #pragma omp for
    for (int64_t i = 0; i < n; i += 1) out[i] = mid[n - 1 - i] + 1;
    #pragma omp single
    {
      totals[1] = out[0] + out[n - 1];
    }
    float local = 0;
    #pragma omp for
    for (int64_t i = 0; i < n; i += 1) local += out[i] > 1 ? 1 : 0;
    partial[tid] = local;
  }
  totals[0] = partial[0] + partial[1];
}
"""


def test_a_region_s_barriers_order_its_loops():
    """GCC's OpenMP calls in a kernel bound to the device's cores: each loop reads what the
    other member wrote in the loop before (so barriers hold), one member runs the single block
    and the members' partial counts add up, call after call."""
    from torch_mlu._inductor import queued_kernel

    kernel = queued_kernel("test_team", TEAM_TYPES, TEAM_SOURCE)
    for _ in range(20):
        run_team_kernel(kernel)


def run_team_kernel(kernel, n=200_003):
    x = torch.randn(n, device="mlu")
    mid, out, totals = (torch.empty(n, device="mlu"), torch.empty(n, device="mlu"),
                        torch.empty(2, device="mlu"))
    kernel(x, mid, out, totals, n)
    expected = x.flip(0) * 2 + 1
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(totals[1], expected[0] + expected[-1])
    assert totals[0].item() == (expected > 1).sum().item()


def test_a_kernel_bound_to_another_team_layout_is_refused(monkeypatch):
    from torch_mlu._inductor import queued_kernel

    address, size = _C._generated_code_team()
    monkeypatch.setattr(_C, "_generated_code_team", lambda: (address, size + 8))
    with pytest.raises(RuntimeError, match="test_team_layout: its parallel regions do not match"):
        queued_kernel("test_team_layout", TEAM_TYPES, TEAM_SOURCE + "// layout\n")


def test_team_source_schedules_loops_dynamically_or_drops_what_it_cannot_run():
    from torch_mlu._inductor import _team_source, queued_kernel

    source = _team_source(TEAM_SOURCE)
    assert source.count("#pragma omp for schedule(dynamic)") == 3
    assert "omp_get_thread_num()" not in source and "torch_mlu_thread_num()" in source
    assert "GOMP_parallel" in source
    assert _team_source(ADD_SOURCE) == ADD_SOURCE
    # A construct the team does not implement: the kernel runs single-threaded (simd kept).
    unknown = TEAM_SOURCE.replace("#pragma omp single", "#pragma omp critical").replace(
        "for (int64_t i = 0; i < n; i += 1) mid", "#pragma omp simd\n    for (int64_t i = 0; "
        "i < n; i += 1) mid")
    sequential = _team_source(unknown)
    assert "GOMP_parallel" not in sequential
    assert re.findall(r"#pragma omp.*", sequential) == ["#pragma omp simd"]
    run_team_kernel(queued_kernel("test_team_sequential", TEAM_TYPES, unknown))


# --- the launcher's error paths ---------------------------------------------------------------

ADD_TYPES = ["const float*", "const float*", "float*", "const int64_t"]
ADD_SOURCE = """
#include <cstdint>
extern "C" void kernel(const float* a, const float* b, float* out, const int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}
"""


def adding_kernel():
    """A kernel as Inductor generates them: adds its first two arguments into the third."""
    from torch_mlu._inductor import queued_kernel

    return queued_kernel("test_add", ADD_TYPES, ADD_SOURCE)


def test_launcher_runs_a_kernel_and_reads_cpu_inputs():
    add = adding_kernel()
    a, out = torch.arange(4.0, device="mlu"), torch.empty(4, device="mlu")
    add(a, torch.ones(4), out, 4)
    torch.testing.assert_close(out.cpu(), torch.arange(4.0) + 1)


def test_kernels_compile_in_inductor_workers():
    from torch._inductor.async_compile import AsyncCompile

    from torch_mlu._inductor import queued_kernel

    with torch._inductor.config.patch(compile_threads=2):
        pending = queued_kernel("test_add_async", ADD_TYPES, ADD_SOURCE + "// async\n",
                                AsyncCompile())
    add = pending.result()  # what the wrapper's async_compile.wait(globals()) does
    a, out = torch.arange(3.0, device="mlu"), torch.empty(3, device="mlu")
    add(a, a, out, 3)
    torch.testing.assert_close(out.cpu(), torch.arange(3.0) * 2)


@pytest.mark.parametrize("args, error, match", [
    (lambda a: (a, a, a), ValueError, "takes 4 arguments, got 3"),
    (lambda a: (a, a, torch.empty(4), 4), TypeError, "must be an mlu tensor \\(the kernel writes"),
    (lambda a: (a, 1.5, a, 4), TypeError, "argument 1 must be a tensor"),
    (lambda a: (a, a, a, "four"), TypeError, "argument 3 must be an int, got str"),
])
def test_launcher_rejects_bad_arguments(args, error, match):
    add = adding_kernel()
    gc.collect()  # earlier tests' garbage must not count as freed by this one
    a = torch.zeros(4, device="mlu")
    with raises_then_usable(error, match):
        add(*args(a))


@pytest.mark.skipif(torch.mlu.device_count() < 2, reason="needs a second mlu device")
def test_launcher_rejects_tensors_on_two_devices():
    add = adding_kernel()
    gc.collect()
    a, b = torch.zeros(4, device="mlu:0"), torch.zeros(4, device="mlu:1")
    with raises_then_usable(ValueError, "tensors on mlu:0 and mlu:1"):
        add(a, b, a, 4)


def test_launcher_rejects_bad_construction():
    with pytest.raises(ValueError, match="kinds"):
        _C._GeneratedKernel(1, "k", "px")
    with pytest.raises(ValueError, match="no entry point"):
        _C._GeneratedKernel(0, "k", "p")


# --- reference workloads ------------------------------------------------------------------------

# gpt and resnet18 are compiled with backend="mlu" in test_compile.py; mobilenet_v3_small and
# r3d_18 take five minutes and more to compile on two cores.
@pytest.mark.parametrize("name", ["dlrm", "speech_lstm", "gpt_small"])
def test_compiled_workload_training_matches_eager(name):
    workload = workloads.WORKLOADS[name]
    losses = {}
    for compiled in (False, True):
        torch._dynamo.reset()
        model, optimizer = workloads.build(workload, "mlu")
        run = torch.compile(model) if compiled else model
        gen = torch.Generator().manual_seed(1)
        losses[compiled] = [
            workloads.train_step(workload, run, optimizer,
                                 workloads.to_device(workload.make_batch(gen), "mlu")).item()
            for _ in range(3)]
    # The tolerance of mlu against CPU in test_workloads.py: fused loops round differently.
    torch.testing.assert_close(losses[True], losses[False], rtol=2e-3, atol=2e-4)


def test_compile_report_shows_cse_dead_code_and_fusion():
    def plain(x):
        return (torch.sin(x) * 2).relu().sum()

    def redundant(x):
        unused = torch.cos(x) + 1  # noqa: F841
        return (torch.sin(x) * 2).relu().sum() + (torch.sin(x) * 2).relu().sum()

    x = torch.randn(64, device="mlu", requires_grad=True)
    reports = {}
    for fn in (plain, redundant):
        torch._dynamo.reset()
        with torch.mlu.compile_report() as reports[fn.__name__]:
            torch.compile(fn)(x).backward()
    plain_report, redundant_report = reports["plain"], reports["redundant"]
    assert plain_report.graphs == 2  # forward and backward
    assert redundant_report.cse_removed > plain_report.cse_removed
    assert redundant_report.dead_code_removed > plain_report.dead_code_removed
    # sin, mul, relu and sum (and their gradients) in a kernel per graph.
    assert plain_report.generated_kernels == 2 and plain_report.library_calls == 0
    assert plain_report.fused_away == plain_report.ops - 2 > 0
    assert "fused away" in str(plain_report)

    # Counted again for a graph compiled before (no cached graph skips the passes), and only
    # inside the block.
    torch._dynamo.reset()
    with torch.mlu.compile_report() as again:
        torch.compile(plain)(x).backward()
    assert again == plain_report
    torch._dynamo.reset()
    torch.compile(plain)(x).backward()
    assert again == plain_report
