"""Runtime GPU migration: CUDA code runs on mlu inside torch_mlu.utils.migration.cuda_to_mlu
(or for a whole process through `import torch_mlu.utils.gpu_migration` and
TORCH_MLU_GPU_MIGRATION), every redirection is reported, strict mode refuses CUDA-only APIs."""

import collections
import inspect
import pathlib
import textwrap
import unittest.mock
import warnings

import pytest
import torch

from migration import harness
from torch_mlu.utils.migration import MigrationError, MigrationWarning, cuda_to_mlu, table

HERE = pathlib.Path(__file__).name


def redirected(ledger, api):
    """{change: count} the ledger recorded for api at sites in this file."""
    counts = collections.Counter()
    for redirect, count in ledger.redirects():
        if redirect.api == api and HERE in redirect.site:
            counts[redirect.change] += count
    return dict(counts)


def test_torch_cuda_answers_for_mlu():
    with cuda_to_mlu() as ledger:
        assert torch.cuda.is_available()
        assert torch.cuda.device_count() == torch.mlu.device_count()
        torch.cuda.set_device(1)
        assert torch.cuda.current_device() == 1 == torch.mlu.current_device()
        torch.cuda.set_device(torch.device("cuda", 0))
        assert torch.cuda.current_device() == 0
        assert torch.cuda.get_device_name(0) == torch.mlu.get_device_name(0)
        assert torch.cuda.get_device_properties("cuda:0").total_memory > 0
        assert torch.cuda.get_device_capability() == torch.mlu.get_device_capability()
        with torch.cuda.device(1):
            assert torch.ones(1, device="cuda").device == torch.device("mlu", 1)
        torch.cuda.synchronize("cuda:1")
        assert torch.cuda.is_bf16_supported()
    assert redirected(ledger, "torch.cuda.set_device") == {"-> torch.mlu.set_device": 2}


def test_streams_and_events_with_timing():
    with cuda_to_mlu():
        stream = torch.cuda.Stream(device="cuda:0")
        assert isinstance(stream, torch.cuda.Stream) and isinstance(stream, torch.mlu.Stream)
        x = torch.ones(1 << 16, device="cuda")
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        stream.wait_stream(torch.cuda.current_stream())  # x is filled on the default stream
        with torch.cuda.stream(stream):
            assert torch.cuda.current_stream() == stream
            start.record()
            y = (x * 2).sum()
            end.record()
        torch.cuda.current_stream().wait_stream(stream)
        torch.cuda.synchronize()
        assert start.elapsed_time(end) >= 0
        assert y.item() == 2 * (1 << 16)
        assert torch.cuda.current_stream() == torch.cuda.default_stream()
        assert isinstance(torch.cuda.current_stream(), torch.cuda.Stream)


def test_memory_statistics_count_cuda_allocations():
    with cuda_to_mlu():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        x = torch.empty(1 << 20, device="cuda")
        assert torch.cuda.memory_allocated() == before + x.nbytes
        assert torch.cuda.max_memory_allocated(torch.device("cuda:0")) >= before + x.nbytes
        assert torch.cuda.memory_cached() == torch.cuda.memory_reserved() > 0  # deprecated alias
        assert torch.cuda.memory_stats()["allocated_bytes.all.current"] == before + x.nbytes
        free, total = torch.cuda.mem_get_info()
        assert 0 < free <= total
        del x
        torch.cuda.empty_cache()
        assert torch.cuda.memory_allocated() == before


def test_seeds_and_rng_state_drive_the_mlu_generator():
    with cuda_to_mlu():
        torch.cuda.manual_seed(7)
        first = torch.randn(4, device="cuda")
        state = torch.cuda.get_rng_state()
        second = torch.randn(4, device="cuda")
        torch.cuda.set_rng_state(state)
        assert torch.equal(torch.randn(4, device="cuda"), second)
        torch.cuda.manual_seed_all(7)
        assert torch.equal(torch.randn(4, device="cuda"), first)
        assert torch.cuda.initial_seed() == 7
        assert len(torch.cuda.get_rng_state_all()) == torch.mlu.device_count()

        generator = torch.Generator(device="cuda")
        assert generator.device == torch.device("mlu", 0)
        assert isinstance(generator, torch.Generator)
        assert isinstance(torch.Generator(), torch.Generator)
        generator.manual_seed(3)
        drawn = torch.rand(3, device="cuda", generator=generator)
        assert torch.equal(torch.rand(3, device="cuda", generator=generator.manual_seed(3)), drawn)


def test_device_strings_objects_and_ordinals_mean_mlu():
    mlu0, mlu1 = torch.device("mlu", 0), torch.device("mlu", 1)
    with cuda_to_mlu() as ledger:
        assert torch.zeros(2, device="cuda").device == mlu0
        assert torch.full((2,), 3.0, device="cuda:1").device == mlu1
        assert torch.tensor([1, 2], device=torch.device("cuda", 1)).device == mlu1
        assert torch.arange(3, device=torch.device("cuda")).device == mlu0
        assert torch.zeros(1, device=0).device == mlu0
        cpu = torch.arange(4.0)
        assert cpu.to("cuda").device == mlu0
        assert cpu.to("cuda:1", non_blocking=True).device == mlu1
        assert cpu.to(device=torch.device("cuda", 1), dtype=torch.float16).dtype == torch.float16
        assert cpu.to(1).device == mlu1
        assert cpu.to(torch.float64).device.type == "cpu"
        assert cpu.cuda().device == mlu0 and cpu.cuda(1).device == mlu1
        assert cpu.cuda("cuda:1", non_blocking=True).device == mlu1
        assert cpu.new_zeros(2, device="cuda").device == mlu0
        with pytest.raises(ValueError, match="must be cuda device"):
            cpu.cuda("cpu")
        model = torch.nn.Linear(2, 2).cuda()
        assert model.weight.device == mlu0
        assert model.cuda(1).weight.device == mlu1
        assert model.to("cuda:0").weight.device == mlu0
        assert model.to(torch.device("cuda", 1), torch.float64).weight.dtype == torch.float64
        storage = torch.UntypedStorage(8).cuda(1)
        assert storage.device == mlu1
    assert redirected(ledger, "torch.zeros") == {"cuda -> mlu": 1}
    assert redirected(ledger, "Tensor.to")["cuda:1 -> mlu:1"] == 2
    assert redirected(ledger, "Module.cuda") == {"-> mlu:0": 1, "-> mlu:1": 1}


def test_is_cuda_is_true_for_mlu_tensors_when_the_script_asks():
    with cuda_to_mlu() as ledger:
        x = torch.ones(3, device="cuda")
        assert x.is_cuda and not torch.ones(3).is_cuda
        # PyTorch's own code keeps the true answer, so it takes no CUDA-only path
        packed = torch.nn.utils.rnn.pack_sequence([torch.ones(2, 1, device="cuda")])
        assert not packed.is_cuda
    assert redirected(ledger, "Tensor.is_cuda") == {"True for an mlu tensor": 1}


def test_pinned_memory_for_cuda_and_dataloader_pin_memory_device():
    dataset = torch.utils.data.TensorDataset(torch.arange(8.0))
    with cuda_to_mlu(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.6 deprecates device=
        assert torch.arange(4.0).pin_memory("cuda").is_pinned("cuda")
        loader = torch.utils.data.DataLoader(dataset, batch_size=4, pin_memory=True,
                                             pin_memory_device="cuda")
        assert loader.pin_memory_device == "mlu"
        assert all(batch.is_pinned() for (batch,) in loader)
        plain = torch.utils.data.DataLoader(dataset, batch_size=4, pin_memory=True)
        assert all(batch.is_pinned() for (batch,) in plain)


def test_torch_load_map_location_cuda_means_mlu(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save({"w": torch.arange(3.0, device="mlu")}, path)
    with cuda_to_mlu() as ledger:
        assert torch.load(path, map_location="cuda:1")["w"].device == torch.device("mlu", 1)
        assert torch.load(path, map_location=torch.device("cuda"))["w"].device.type == "mlu"
        assert torch.load(path, map_location={"cuda:0": "cuda:1"})["w"].device.index == 1
        on_one = torch.load(path, map_location=lambda storage, location: storage.cuda(1))
        assert on_one["w"].device == torch.device("mlu", 1)
        assert torch.load(path, map_location="cpu")["w"].device.type == "cpu"
    assert "map_location cuda:1 -> mlu:1" in redirected(ledger, "torch.load")


def test_checkpoint_saved_on_a_gpu_loads_on_mlu(tmp_path):
    path = tmp_path / "from_gpu.pt"
    with unittest.mock.patch.object(torch.serialization, "location_tag", lambda storage: "cuda:0"):
        torch.save({"w": torch.arange(3.0)}, path)  # recorded as saved on cuda:0
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(path)  # what happens without the migration
    with cuda_to_mlu() as ledger:
        loaded = torch.load(path)["w"]
    assert loaded.device == torch.device("mlu", 0) and torch.equal(loaded.cpu(), torch.arange(3.0))
    assert redirected(ledger, "torch.load") == {"storage saved on cuda:0 -> mlu:0": 1}


@pytest.mark.filterwarnings("ignore:`torch.cuda.amp.GradScaler:FutureWarning")
def test_grad_scaler_for_cuda_scales_on_mlu_like_on_the_cpu():
    def step(model, scaler, device):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        loss = model(torch.arange(8.0).view(2, 4).to(device)).square().sum()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return model.weight.detach().cpu(), scaler.get_scale()

    torch.manual_seed(0)
    reference = torch.nn.Linear(4, 1)
    with cuda_to_mlu():
        scaler = torch.cuda.amp.GradScaler(init_scale=1024.0)  # the deprecated spelling
        assert scaler._device == "mlu" and torch.amp.GradScaler()._device == "mlu"
        model = torch.nn.Linear(4, 1)
        model.load_state_dict(reference.state_dict())
        mlu_result = step(model.cuda(), scaler, "cuda")
    cpu_result = step(reference, torch.amp.GradScaler("cpu", init_scale=1024.0), "cpu")
    torch.testing.assert_close(mlu_result[0], cpu_result[0])
    assert mlu_result[1] == cpu_result[1] == 1024.0


def test_autocast_device_type_cuda_is_translated_to_mlu():
    with cuda_to_mlu() as ledger:
        region = torch.autocast(device_type="cuda", dtype=torch.float16)
    assert region.device == "mlu"
    assert redirected(ledger, "torch.autocast") == {"cuda -> mlu": 1}


def test_autocast_cuda_computes_in_half_precision_on_mlu():
    with cuda_to_mlu():
        x = torch.ones(4, 4, device="cuda")
        with torch.autocast("cuda", dtype=torch.float16):
            y = x @ x
        with torch.cuda.amp.autocast():
            z = x @ x
    assert y.dtype == z.dtype == torch.float16 and y.device.type == "mlu"


def test_cudnn_and_cuda_backend_flags_are_accepted_harmlessly():
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = (cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32, matmul.allow_tf32)
    try:
        with cuda_to_mlu():
            cudnn.benchmark, cudnn.deterministic = True, True
            cudnn.allow_tf32, matmul.allow_tf32 = False, True
            assert (torch.ones(2, 2, device="cuda") @ torch.ones(2, 2, device="cuda")).sum() == 8
    finally:
        cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32, matmul.allow_tf32 = saved


def test_nccl_means_the_mlu_collective_backend(run_py):
    result = run_py("""
        import torch
        import torch.distributed as dist
        from torch_mlu.utils.migration import cuda_to_mlu

        with cuda_to_mlu():
            assert dist.is_nccl_available()
            dist.init_process_group("nccl", store=dist.HashStore(), rank=0, world_size=1)
            x = torch.ones(2, device="cuda")
            dist.all_reduce(x)
        print(dist.get_backend(), x.device, x.tolist())
        dist.destroy_process_group()
    """)
    assert result.returncode == 0, result
    assert result.stdout.split() == ["cncl", "mlu:0", "[1.0,", "1.0]"]


def test_cuda_only_apis_warn_once_per_site_and_are_reported():
    with cuda_to_mlu() as ledger, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            with torch.cuda.device_of(torch.ones(1)):  # runs as the CUDA original
                pass
    warned = [w for w in caught if issubclass(w.category, MigrationWarning)]
    assert len(warned) == 1 and warned[0].filename == __file__
    assert "torch.cuda.device_of has no MLU counterpart" in str(warned[0].message)
    (redirect, count), = ledger.cuda_only_calls()
    assert redirect.api == "torch.cuda.device_of" and count == 2 and HERE in redirect.site
    assert "1 call sites used CUDA APIs without an MLU counterpart" in ledger.report()


def test_strict_mode_makes_cuda_only_apis_errors_and_keeps_the_rest():
    with cuda_to_mlu(strict=True):
        with pytest.raises(MigrationError, match=rf"torch.cuda.get_arch_list has no MLU .*{HERE}:"):
            torch.cuda.get_arch_list()
        with pytest.raises(MigrationError, match="torch.cuda.nvtx.range_push"):
            torch.cuda.nvtx.range_push("step")
        with pytest.raises(MigrationError, match="torch.cuda.amp.custom_fwd"):
            torch.cuda.amp.custom_fwd(lambda x: x)
        assert torch.cuda.is_available() and torch.ones(1).cuda().is_cuda
        # classes stay classes for isinstance, and exceptions are untouched
        assert not isinstance(torch.ones(1), torch.cuda.CUDAGraph)
        assert isinstance(torch.cuda.CUDAGraph(), torch.mlu.MLUGraph)
        assert torch.cuda.OutOfMemoryError is torch.OutOfMemoryError


def test_report_names_each_call_site_and_the_torch_line_that_made_it():
    with cuda_to_mlu() as ledger:
        line = inspect.currentframe().f_lineno + 1
        torch.manual_seed(0)  # torch.manual_seed calls torch.cuda.manual_seed_all for CUDA
    (redirect, count), = [(r, n) for r, n in ledger.redirects()
                          if r.api == "torch.cuda.manual_seed_all"]
    assert redirect.site.endswith(f"{HERE}:{line}") and count == 1
    assert redirect.via.startswith("torch/random.py:")
    assert f"(via {redirect.via})" in ledger.report()


def test_leaving_the_migration_restores_everything_even_after_an_error():
    def snapshot():
        return {patch.target: _resolve(patch.target)
                for patch in (*table.PATCHES, *table.cuda_only_patches())}

    before = snapshot()
    assert torch.Tensor.to is torch._C.TensorBase.to
    with pytest.raises(ZeroDivisionError):
        with cuda_to_mlu():
            assert torch.cuda.is_available is not before["torch.cuda.is_available"]
            with pytest.raises(RuntimeError, match="already active"):
                cuda_to_mlu().__enter__()
            1 / 0
    after = snapshot()
    assert all(after[target] is value for target, value in before.items())
    assert "to" not in vars(torch.Tensor) and "is_cuda" not in vars(torch.Tensor)
    assert not torch.cuda.is_available()
    # Torch without CUDA says so; PyPI's CUDA build finds no NVIDIA driver.
    with pytest.raises((RuntimeError, AssertionError), match="CUDA|NVIDIA driver"):
        torch.zeros(1, device="cuda")


def _resolve(target):
    value = torch
    for part in target.split(".")[1:]:
        value = getattr(value, part)
    return value


def test_documentation_lists_every_patch():
    doc = (pathlib.Path(__file__).parents[1] / "docs" / "migration.md").read_text()
    for patch in table.PATCHES:
        documented = patch.target.removeprefix("torch.cuda.") if patch.target.startswith(
            "torch.cuda.") else patch.target
        assert f"`{documented}`" in doc, patch.target
    for namespace in table.CUDA_ONLY_NAMESPACES:
        assert f"`{namespace}`" in doc


def test_import_hook_migrates_the_whole_script_and_reports_at_exit(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""\
        import torch_mlu.utils.gpu_migration  # before torch, as the first line of a script
        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model = torch.nn.Linear(3, 1).to(device)
        loss = model(torch.randn(2, 3).cuda()).sum()
        loss.backward()
        torch.cuda.synchronize()
        print(model.weight.grad.device)
    """))
    result = harness.run(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["mlu:0"]
    assert "GPU migration active" in result.stderr
    report = result.stderr[result.stderr.index("torch_mlu GPU migration:"):]
    for line, api in ((4, "torch.cuda.is_available"), (5, "Module.to"), (6, "Tensor.cuda"),
                      (8, "torch.cuda.synchronize")):
        assert f"train.py:{line}" in report and api in report, (line, api, report)


def test_environment_variable_migrates_and_writes_the_report_to_a_file(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import torch\nprint(torch.zeros(1, device='cuda').device)\n")
    report = tmp_path / "report.txt"
    result = harness.run(script, TORCH_MLU_GPU_MIGRATION="1",
                         TORCH_MLU_GPU_MIGRATION_REPORT=str(report))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "mlu:0"
    assert "train.py:2" in report.read_text() and "torch.zeros cuda -> mlu" in report.read_text()


def test_strict_environment_variable_stops_a_script_at_a_cuda_only_api(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import torch\ntorch.cuda.nvtx.range_push('forward')\nprint('ran')\n")
    result = harness.run(script, TORCH_MLU_GPU_MIGRATION="strict",
                         TORCH_MLU_GPU_MIGRATION_REPORT="0")
    assert result.returncode != 0 and "ran" not in result.stdout
    assert "MigrationError: torch.cuda.nvtx.range_push has no MLU counterpart" in result.stderr
    assert "train.py:2" in result.stderr


# The corpus: realistic CUDA scripts, run unmodified under the migration.
@pytest.fixture(scope="module")
def migrated_runs(tmp_path_factory):
    """script -> (completed process, report text), each run once for the tests below."""
    runs = {}

    def get(script):
        if script not in runs:
            report = tmp_path_factory.mktemp("report") / "report.txt"
            result = harness.run(harness.CORPUS / script,
                                 *harness.DETERMINISTIC_ARGS.get(script, ()),
                                 TORCH_MLU_GPU_MIGRATION="1",
                                 TORCH_MLU_GPU_MIGRATION_REPORT=str(report))
            runs[script] = result, report.read_text() if report.exists() else ""
        return runs[script]

    return get


@pytest.mark.parametrize("script", harness.SCRIPTS)
def test_corpus_script_runs_unmodified_on_mlu(script, migrated_runs):
    result, report = migrated_runs(script)
    assert result.returncode == 0, result.stderr
    assert "parameters on mlu:0" in result.stdout
    assert f"tests/migration/{script}:" in report


@pytest.mark.parametrize("script", harness.SCRIPTS)
def test_corpus_script_under_migration_matches_the_cpu(script, migrated_runs):
    result, _ = migrated_runs(script)
    assert result.returncode == 0, result.stderr
    harness.assert_same_metrics(harness.metrics(result.stdout), harness.cpu_reference(script),
                                rtol=harness.RTOL_BY_SCRIPT.get(script, harness.RTOL))


def test_resnet_with_mixed_precision_under_migration_matches_cpu_mixed_precision():
    result = harness.run(harness.CORPUS / "resnet_amp.py", "--amp", TORCH_MLU_GPU_MIGRATION="1")
    assert result.returncode == 0, result.stderr[-2000:]
    # float16 rounding: both devices autocast, but their operator lists may differ
    harness.assert_same_metrics(harness.metrics(result.stdout),
                                harness.cpu_reference("resnet_amp.py", ("--amp",)), rtol=2e-2)


def test_cuda_graph_capture_and_replay_run_as_mlu_graphs():
    with cuda_to_mlu():
        model = torch.nn.Linear(4, 4).cuda()
        static_x = torch.ones(3, 4, device="cuda")
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up outside the capture, as CUDA's recipe does
            model(static_x)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.graphs.CUDAGraph()
        with torch.cuda.graph(graph, pool=torch.cuda.graph_pool_handle()):
            static_y = model(static_x)
        static_x.copy_(torch.full((3, 4), 2.0, device="cuda"))
        graph.replay()
        torch.cuda.synchronize()
        assert isinstance(graph, torch.mlu.MLUGraph) and static_y.device.type == "mlu"
        torch.testing.assert_close(static_y.cpu(), model(static_x).cpu())
