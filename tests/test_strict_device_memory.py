"""Strict device memory (MLU_STRICT_DEVICE_MEMORY=1): device addresses are not host memory, as on
hardware. The host reaches device data only through the driver's copies; kernels, copies, the CPU
fallback, scalar reads and serialization work; a stray host access dies naming the operator.
(CI also runs the whole suite in this mode.)"""

import textwrap

import pytest

STRICT = {"MLU_STRICT_DEVICE_MEMORY": "1"}


def stdout_of(result):
    assert result.returncode == 0, result
    return result.stdout


def test_properties_report_whether_the_host_can_touch_device_memory(run_py):
    code = """
        import torch, torch_mlu
        print(torch.mlu.get_device_properties(0).host_accessible,
              torch.mlu.get_device_properties(1).host_accessible)
    """
    assert stdout_of(run_py(code, MLU_STRICT_DEVICE_MEMORY="0")).split() == ["True", "True"]
    assert stdout_of(run_py(code, **STRICT)).split() == ["False", "False"]


def test_invalid_setting_names_the_variable(run_py):
    r = run_py("import torch, torch_mlu; torch.zeros(1, device='mlu')",
               MLU_STRICT_DEVICE_MEMORY="yes")
    assert r.returncode != 0
    assert "MLU_STRICT_DEVICE_MEMORY must be 0 or 1, got 'yes'" in r.stderr


def test_kernels_copies_scalars_and_serialization_work(run_py):
    r = run_py("""
        import io, torch, torch_mlu
        torch.manual_seed(0)
        a, b = torch.randn(64, 32), torch.randn(32, 16)
        ma, mb = a.to("mlu"), b.to("mlu")
        torch.testing.assert_close((ma @ mb).relu().cpu(), (a @ b).relu())
        torch.testing.assert_close(ma.t().contiguous().cpu(), a.t().contiguous())
        torch.testing.assert_close(torch.tensor(ma.sum().item()), a.sum(), rtol=1e-5, atol=1e-4)
        # pinned, non-blocking both ways
        pinned = torch.empty(64, 32).pin_memory()
        pinned.copy_(ma * 2, non_blocking=True)
        torch.mlu.synchronize()
        torch.testing.assert_close(pinned, a * 2)
        back = torch.empty(64, 32, device="mlu").copy_(pinned, non_blocking=True)
        torch.testing.assert_close(back.cpu(), a * 2)
        # between devices
        torch.testing.assert_close(ma.to("mlu:1").cpu(), a)
        # serialization
        buffer = io.BytesIO()
        torch.save({"w": ma, "view": ma[3:5]}, buffer)
        buffer.seek(0)
        loaded = torch.load(buffer)
        assert loaded["w"].device.type == "mlu"
        torch.testing.assert_close(loaded["w"].cpu(), a)
        torch.testing.assert_close(loaded["view"].cpu(), a[3:5])
        # training steps: autograd, the fused optimizer, GradScaler's device scalars
        model = torch.nn.Sequential(torch.nn.Linear(32, 16), torch.nn.GELU(), torch.nn.Linear(16, 1))
        model.to("mlu")
        opt = torch.optim.AdamW(model.parameters(), fused=True)
        scaler = torch.amp.GradScaler("mlu")
        for _ in range(3):
            with torch.autocast("mlu", dtype=torch.float16):
                loss = model(ma).square().mean()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            opt.zero_grad()
        assert torch.isfinite(loss).item()
        print("ok")
    """, **STRICT)
    assert stdout_of(r).strip() == "ok"


def test_cpu_fallback_stages_storages_and_writes_back_what_it_wrote(run_py):
    r = run_py("""
        import warnings, torch, torch_mlu
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        def on_fallback(fn, *args):
            torch.mlu.reset_fallback_stats()
            out = fn(*args)
            assert torch.mlu.fallback_stats(), "ran natively: pick another operator"
            return out

        x = torch.randn(6, 5)
        mx = x.to("mlu")
        # a view of a larger storage as input: the rest of the storage is untouched
        got = on_fallback(lambda t: torch.mode(t[1:4, 1:], 1), mx)
        want = torch.mode(x[1:4, 1:], 1)
        torch.testing.assert_close(got.values.cpu(), want.values)
        torch.testing.assert_close(got.indices.cpu(), want.indices)
        torch.testing.assert_close(mx.cpu(), x)
        # out= into a strided view: only the view's elements change on the device
        base, mbase = torch.zeros(6, 10), torch.zeros(6, 10, device="mlu")
        on_fallback(lambda: torch.lgamma(mx, out=mbase[:, ::2]))
        torch.lgamma(x, out=base[:, ::2])
        torch.testing.assert_close(mbase.cpu(), base)
        # out= of the wrong size: resized to new memory, as on the CPU
        small = torch.empty(0, device="mlu")
        on_fallback(lambda: torch.digamma(mx, out=small))
        torch.testing.assert_close(small.cpu(), torch.digamma(x))
        # in place through a view: the view's base sees it, the rest stays
        z = torch.randn(4, 6, dtype=torch.complex64)
        mz = z.to("mlu")
        on_fallback(lambda: mz[1:3].sqrt_())
        z[1:3].sqrt_()
        torch.testing.assert_close(mz.cpu(), z)
        # a list the operator writes (Tensor(a!)[]): an operator with only a CPU kernel
        torch.library.define("strictcheck::fill_list_", "(Tensor(a!)[] xs, float value) -> ()")
        @torch.library.impl("strictcheck::fill_list_", "CPU")
        def fill_list_(xs, value):
            for x in xs:
                x.fill_(value)
        parts = [torch.zeros(3, device="mlu"), torch.zeros(2, 4, device="mlu")[:, 1]]
        on_fallback(lambda: torch.ops.strictcheck.fill_list_(parts, 2.5))
        assert [p.cpu().tolist() for p in parts] == [[2.5] * 3, [2.5] * 2]
        # an input and the out= argument in one storage: one row read, another written
        w = torch.rand(3, 5) + 0.5
        mw = w.to("mlu")
        on_fallback(lambda: torch.polygamma(1, mw[0], out=mw[2]))
        torch.polygamma(1, w[0], out=w[2])
        torch.testing.assert_close(mw.cpu(), w)
        print("ok")
    """, **STRICT)
    assert stdout_of(r).strip() == "ok"


# A user's operator whose mlu kernel reads device memory on the host: the bug strict mode exists
# to catch before it reaches hardware.
PEEKING_OPERATOR = textwrap.dedent("""
    import ctypes, faulthandler, torch, torch_mlu
    faulthandler.enable()
    torch.library.define("strictcheck::peek", "(Tensor x) -> Tensor")
    @torch.library.impl("strictcheck::peek", "PrivateUse1")
    def peek(x):
        ctypes.string_at(x.data_ptr(), 4)
        return x
    x = torch.ones(4, device="mlu")
""")


def test_a_stray_host_access_dies_naming_the_operator(run_py):
    r = run_py(PEEKING_OPERATOR + "torch.ops.strictcheck.peek(x)\n", **STRICT)
    assert r.returncode != 0
    assert "torch_mlu: the host touched mlu device memory at 0x" in r.stderr
    assert " in strictcheck::peek." in r.stderr
    assert "Fatal Python error: Segmentation fault" in r.stderr  # faulthandler still reports
    assert "in peek" in r.stderr  # faulthandler's Python stack


def test_a_stray_host_access_outside_operators_is_reported_too(run_py):
    r = run_py(PEEKING_OPERATOR + "ctypes.string_at(x.data_ptr(), 4)\n", **STRICT)
    assert r.returncode != 0
    assert "device memory at 0x" in r.stderr and "outside any PyTorch operator" in r.stderr


def test_without_strict_mode_device_memory_is_host_memory(run_py):
    r = run_py(PEEKING_OPERATOR + "print(torch.ops.strictcheck.peek(x).sum().item())\n",
               MLU_STRICT_DEVICE_MEMORY="0")
    assert stdout_of(r).strip() == "4.0"


@pytest.mark.parametrize("allocate_first", [False, True])
def test_forked_child_never_shares_device_memory_with_its_parent(run_py, allocate_first):
    # Before any device work a forked child may use the devices, with memory of its own (the
    # parent's next block, at the address the child wrote, does not see the child's values); after
    # the parent allocated, it may not (as after the parent started its queues).
    r = run_py(f"""
        import os, torch, torch_mlu
        torch.mlu.device_count()
        if {allocate_first}:
            kept = torch.empty(1024, device="mlu")  # memory, but no queue yet
        pid = os.fork()
        if pid == 0:
            try:
                t = torch.full((1024,), 3.0, device="mlu")
                torch.mlu.synchronize()
                os._exit(0 if t.sum().item() == 3072 else 3)
            except RuntimeError as e:
                os._exit(2 if "forked" in str(e) else 4)
        _, status = os.waitpid(pid, 0)
        seen = torch.empty(1024, device="mlu").cpu()
        print(os.waitstatus_to_exitcode(status), int((seen == 3.0).sum()))
    """, **STRICT)
    code, shared = stdout_of(r).split()
    assert code == ("2" if allocate_first else "0")
    assert shared == "0"
