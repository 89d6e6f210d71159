"""gpu2mlu: the static CUDA -> mlu converter (libcst), its Markdown report, and the hazard scan
(--check), down to converted copies of the corpus training on mlu like the CPU."""

import subprocess
import sys
import textwrap

import pytest

from migration import harness
from torch_mlu.tools.gpu2mlu import Change, convert_source, main, scan_source


def convert(code):
    return convert_source(textwrap.dedent(code))


def converted(code):
    return convert(code)[0]


def hazards(code):
    return [(hazard.line, hazard.kind) for hazard in scan_source(textwrap.dedent(code))]


# Conversion
def test_device_strings_backends_and_environment_variables():
    code = converted("""\
        import os
        import torch
        a = torch.device("cuda")
        b = torch.zeros(2, device='cuda:1')
        c = f"cuda:{rank}"
        d = "cuda:%d" % rank
        e = "cuda:{}".format(rank)
        torch.distributed.init_process_group(backend="nccl")
        g = "cpu:gloo,cuda:nccl"
        os.environ["CUDA_VISIBLE_DEVICES"] = "0"
        kept = ["cuda is fast", "my_cuda", b"cuda", "nccl_tests", f"cuda {x}"]
    """)
    assert code == textwrap.dedent("""\
        import os
        import torch
        import torch_mlu
        a = torch.device("mlu")
        b = torch.zeros(2, device='mlu:1')
        c = f"mlu:{rank}"
        d = "mlu:%d" % rank
        e = "mlu:{}".format(rank)
        torch.distributed.init_process_group(backend="cncl")
        g = "cpu:gloo,mlu:cncl"
        os.environ["MLU_VISIBLE_DEVICES"] = "0"
        kept = ["cuda is fast", "my_cuda", b"cuda", "nccl_tests", f"cuda {x}"]
    """)


def test_torch_cuda_apis_become_torch_mlu_through_any_alias():
    code = converted("""\
        import torch as th
        th.cuda.synchronize()
        used = th.cuda.memory_cached()  # the deprecated name of memory_reserved
        stream = th.cuda.Stream()
        th.cuda.nvtx.range_push("kept: no MLU counterpart")
    """)
    assert code == textwrap.dedent("""\
        import torch as th
        import torch_mlu
        th.mlu.synchronize()
        used = th.mlu.memory_reserved()  # the deprecated name of memory_reserved
        stream = th.mlu.Stream()
        th.cuda.nvtx.range_push("kept: no MLU counterpart")
    """)


def test_cuda_methods_and_is_cuda():
    code = converted("""\
        import torch
        model = Net().cuda()
        x = batch.cuda(non_blocking=True)
        y = x.cuda(args.gpu)
        if x.is_cuda:
            pass
    """)
    assert "Net().mlu()" in code and "batch.mlu(non_blocking=True)" in code
    assert "x.mlu(args.gpu)" in code and "if x.is_mlu:" in code


def test_amp_classes_take_the_mlu_device():
    code = converted("""\
        import torch
        from torch.cuda.amp import GradScaler, autocast
        from torch.cuda import amp
        s1 = torch.cuda.amp.GradScaler(init_scale=1024)
        s2 = GradScaler(2.0 ** 16, 2.0)
        s3 = torch.amp.GradScaler()
        s4 = torch.amp.GradScaler("cuda")
        with torch.cuda.amp.autocast(True, torch.bfloat16):
            pass
        with autocast(enabled=False), amp.autocast():
            pass
    """)
    assert code == textwrap.dedent("""\
        import torch
        import torch_mlu
        from torch.amp import GradScaler, autocast
        from torch import amp
        s1 = torch.amp.GradScaler("mlu", init_scale=1024)
        s2 = GradScaler("mlu", 2.0 ** 16, 2.0)
        s3 = torch.amp.GradScaler("mlu")
        s4 = torch.amp.GradScaler("mlu")
        with torch.amp.autocast("mlu", enabled=True, dtype=torch.bfloat16):
            pass
        with autocast("mlu", enabled=False), amp.autocast("mlu"):
            pass
    """)


def test_from_torch_cuda_imports_become_torch_mlu_imports():
    code = converted("""\
        from torch.cuda import synchronize, memory_cached
        from torch.cuda import CUDAGraph
    """)
    assert code == textwrap.dedent("""\
        import torch_mlu
        from torch.mlu import synchronize, memory_reserved as memory_cached
        from torch.mlu import MLUGraph as CUDAGraph
    """)  # torch.mlu exists once torch_mlu is imported, so the import goes first


def test_import_torch_mlu_goes_after_the_first_torch_import_once():
    assert converted("'''Doc.'''\nimport os\nimport torch.nn as nn\nimport torch\n") == \
        "'''Doc.'''\nimport os\nimport torch.nn as nn\nimport torch_mlu\nimport torch\n"
    assert converted("import torch\nimport torch_mlu\n") == "import torch\nimport torch_mlu\n"
    assert converted("import numpy\nx = 'cuda'\n") == "import numpy\nx = 'mlu'\n"
    assert converted('"""Doc."""\nfrom __future__ import annotations\ndef f():\n'
                     '    import torch\n') == ('"""Doc."""\nfrom __future__ import annotations\n'
                                               'import torch_mlu\ndef f():\n    import torch\n')


def test_formatting_and_comments_are_kept():
    source = textwrap.dedent("""\
        import torch   # the framework

        def train(model,
                  data):   # odd spacing stays
            # move to the GPU
            model = model.cuda( )
            return [x.to( 'cuda' ,non_blocking = True )
                    for x in data]  # trailing comment
    """)
    code = convert_source(source)[0]
    assert code == source.replace("model.cuda( )", "model.mlu( )").replace(
        "'cuda'", "'mlu'").replace("# the framework\n", "# the framework\nimport torch_mlu\n")
    compile(code, "converted.py", "exec")


def test_changes_name_original_lines_before_and_after():
    _, changes = convert("""\
        import torch
        device = torch.device("cuda")

        torch.cuda.synchronize(); x = y.cuda()
    """)
    assert changes == [
        Change(2, "", "import torch_mlu"),
        Change(2, 'device = torch.device("cuda")', 'device = torch.device("mlu")'),
        Change(4, "torch.cuda.synchronize(); x = y.cuda()", "torch.mlu.synchronize(); x = y.mlu()"),
    ]


# Hazards
def test_cuda_only_libraries_are_hazards():
    found = hazards("""\
        import apex
        from flash_attn import flash_attn_func
        import bitsandbytes as bnb
        from xformers.ops import memory_efficient_attention
        import cupy
        import pynvml
        import numpy
    """)
    assert found == [(line, "CUDA-only library") for line in range(1, 7)]


def test_triton_kernels_are_hazards():
    found = hazards("""\
        import triton
        import triton.language as tl

        @triton.jit
        def add_kernel(x_ptr, BLOCK: tl.constexpr):
            pass
    """)
    assert found == [(1, "Triton kernel"), (2, "Triton kernel"), (4, "Triton kernel")]


def test_cuda_extensions_and_sources_are_hazards():
    found = hazards("""\
        from torch.utils.cpp_extension import BuildExtension, CUDAExtension, load
        ext = CUDAExtension("fused", ["fused.cpp", "fused_kernel.cu"])
        op = load(name="op", sources=["op.cpp"], cuda_sources=["op_kernel.cuh"])
    """)
    assert found == [(2, "CUDA extension"), (2, "CUDA source"), (3, "CUDA extension"),
                     (3, "CUDA source")]


def test_comparisons_with_cuda_and_nccl_are_hazards():
    found = hazards("""\
        import torch.distributed as dist
        if dist.get_backend() == "nccl":
            pass
        if device.type == 'cuda':
            pass
        use_amp = "cuda" in str(device)
        other = device.type == "cpu"
    """)
    assert found == [(2, "device comparison"), (4, "device comparison"), (6, "device comparison")]


def test_cuda_graphs_become_mlu_graphs_and_apis_without_counterpart_are_hazards():
    source = """\
        import torch
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g, pool=torch.cuda.graph_pool_handle()):
            pass
        step = torch.cuda.make_graphed_callables(step, (x,))
        torch.cuda.nvtx.range_push("fwd")
        torch.cuda.synchronize()
        fwd = torch.cuda.amp.custom_fwd(fwd)
        step = torch.cuda.graphs.make_graphed_callables(step, (x,))
    """
    assert hazards(source) == [(6, "no MLU counterpart"), (8, "no MLU counterpart"),
                               (9, "CUDA graphs")]
    code = converted(source)
    assert "g = torch.mlu.MLUGraph()" in code
    assert "with torch.mlu.graph(g, pool=torch.mlu.graph_pool_handle()):" in code
    assert "step = torch.mlu.make_graphed_callables(step, (x,))" in code


def test_hard_coded_capability_checks_are_hazards():
    found = hazards("""\
        import torch
        if torch.cuda.get_device_capability() >= (8, 0):
            pass
        major, minor = torch.cuda.get_device_capability(0)
        use_bf16 = major >= 8
        props = torch.cuda.get_device_properties(0)
        fast = props.major == 9 and props.minor >= 0
        memory_ok = props.total_memory > 2**30
        os.environ["TORCH_CUDA_ARCH_LIST"] = "8.0;9.0"
        flags = ["-gencode=arch=compute_80,code=sm_80"]
    """)
    assert found == [(2, "capability check"), (5, "capability check"), (7, "capability check"),
                     (9, "capability check"), (10, "capability check")]


def test_plain_pytorch_code_has_no_hazards():
    assert hazards("""\
        import torch
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model = Net().to(device)
        with torch.autocast(device_type="cuda", dtype=torch.float16):
            loss = model(x.cuda())
        torch.cuda.synchronize()
    """) == []


# The command line
def write_project(root):
    (root / "pkg").mkdir(parents=True)
    (root / "train.py").write_text("import torch\nx = torch.ones(1).cuda()\n")
    (root / "pkg" / "model.py").write_text("import torch\nif dev.type == 'cuda':\n    pass\n")
    (root / "pkg" / "kernel.cu").write_text("__global__ void k() {}\n")
    (root / "pkg" / "broken.py").write_text("def f(:\n")
    (root / "README.txt").write_text("uses cuda\n")


def test_tree_conversion_writes_copies_and_a_markdown_report(tmp_path, capsys):
    source = tmp_path / "project"
    write_project(source)
    assert main([str(source)]) == 0
    out = tmp_path / "project_mlu"
    assert (out / "train.py").read_text() == \
        "import torch\nimport torch_mlu\nx = torch.ones(1).mlu()\n"
    assert (out / "pkg" / "model.py").read_text().endswith("if dev.type == 'mlu':\n    pass\n")
    for unchanged in ("pkg/kernel.cu", "pkg/broken.py", "README.txt"):
        assert (out / unchanged).read_text() == (source / unchanged).read_text()
    report = (out / "gpu2mlu_report.md").read_text()
    assert "| train.py | 2 | `x = torch.ones(1).cuda()` | `x = torch.ones(1).mlu()` |" in report
    assert "| pkg/model.py | 2 | `if dev.type == 'cuda':` | `if dev.type == 'mlu':` |" in report
    for row in ("| pkg/kernel.cu | 1 | CUDA source |", "| pkg/model.py | 2 | device comparison |",
                "| pkg/broken.py | 1 | unparsable |"):
        assert row in report
    assert "5 files, 4 changed lines, 3 hazards" in report
    assert "report: " in capsys.readouterr().out


def test_single_file_conversion_defaults(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import torch\ntorch.cuda.synchronize()\n")
    assert main([str(script)]) == 0
    assert (tmp_path / "train_mlu.py").read_text() == \
        "import torch\nimport torch_mlu\ntorch.mlu.synchronize()\n"
    report = (tmp_path / "train_mlu_report.md").read_text()
    assert "| train.py | 2 | `torch.cuda.synchronize()` | `torch.mlu.synchronize()` |" in report


def test_output_inside_the_source_is_refused(tmp_path):
    source = tmp_path / "project"
    write_project(source)
    with pytest.raises(SystemExit) as exit_info:
        main([str(source), "-o", str(source / "converted")])
    assert exit_info.value.code == 2


def test_check_exit_status_gates_ci(tmp_path):
    source = tmp_path / "project"
    write_project(source)
    clean = tmp_path / "clean.py"
    clean.write_text("import torch\ntorch.cuda.synchronize()\n")
    command = [sys.executable, "-m", "torch_mlu.tools.gpu2mlu", "--check"]
    found = subprocess.run([*command, str(source)], capture_output=True, text=True, timeout=60)
    assert found.returncode == 1, found.stderr
    assert "3 hazards found" in found.stdout
    assert "| pkg/kernel.cu | 1 | CUDA source |" in found.stdout
    assert not (tmp_path / "project_mlu").exists()  # --check writes nothing
    assert main(["--check", str(clean)]) == 0


# The corpus, converted, trains on mlu like the original on the CPU
@pytest.fixture(scope="module")
def converted_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "migration_mlu"
    assert main([str(harness.CORPUS), "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def converted_runs(converted_corpus):
    """script -> completed process of its converted copy, each run once."""
    runs = {}

    def get(script):
        if script not in runs:
            runs[script] = harness.run(converted_corpus / script,
                                       *harness.DETERMINISTIC_ARGS.get(script, ()))
        return runs[script]

    return get


@pytest.mark.parametrize("script", harness.SCRIPTS)
def test_converted_corpus_script_runs_on_mlu(script, converted_corpus, converted_runs):
    assert "torch.cuda" not in (converted_corpus / script).read_text()
    result = converted_runs(script)
    assert result.returncode == 0, result.stderr
    assert "parameters on mlu:0" in result.stdout


@pytest.mark.parametrize("script", harness.SCRIPTS)
def test_converted_corpus_script_matches_the_cpu(script, converted_runs):
    result = converted_runs(script)
    assert result.returncode == 0, result.stderr
    harness.assert_same_metrics(harness.metrics(result.stdout), harness.cpu_reference(script),
                                rtol=harness.RTOL_BY_SCRIPT.get(script, harness.RTOL))
