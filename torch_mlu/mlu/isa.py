"""torch.mlu.kernel_isa(): which instruction-set paths the kernels run on in this process."""

import os

from torch_mlu import _C, _isa


def kernel_isa():
    """The kernel library's variant the loader chose for this CPU (or MLU_KERNELS_ISA forced):
    ``variant`` (its -march level), ``instruction_sets`` (the extensions it was compiled to
    use), ``built`` (every variant this installation has), ``matmul16`` (how bfloat16 and
    float16 matrix products run: "oneDNN" on the CPU's 16-bit instructions, or "float32"),
    ``matmul32`` (how float32 products run: "oneDNN" on its brgemm kernels where the CPU has
    them, AVX-512, for all but small products, or "OpenBLAS"),
    ``conv16`` (MLU_CONV16's policy for 16-bit convolutions: "auto" keeps them 16-bit for the
    layers where oneDNN's 16-bit kernel, AMX's included, timed faster than widening; "native"
    wherever it can; "float32" never) and ``conv16_plans`` (for each
    16-bit dtype, how many convolution shapes and passes planned so far in this process compute
    in 16 bits and how many are widened to float32), ``conv_gemm`` (MLU_CONV_GEMM's policy for
    convolutions without groups: "auto" runs a layer as matrix products on its input's patches
    where its weights outnumber the patches twice over, instead of oneDNN's direct convolution;
    "always" wherever the patches fit; "never") and ``lstm16`` (how nn.LSTM's matrix products
    run under autocast, or for 16-bit LSTMs, per dtype: "AMX", 16-bit operands on the CPU's AMX
    tiles with float32 accumulation, or "float32"; the cells and states are float32 either way)
    and ``attention16`` (how scaled_dot_product_attention's kernel multiplies 16-bit operands:
    "AMX", 16-bit products with float32 accumulation and the softmax weights rounded to the
    operands' dtype, as PyTorch CPU's flash attention does, or "float32", each slice widened)."""
    lib_dir = os.path.join(os.path.dirname(_C.__file__), "lib")
    info = _C._operations_info()
    return {
        "variant": info["implementation"],
        "instruction_sets": info["instruction_sets"],
        "built": [level for level, _ in _isa.variants(lib_dir)],
        "matmul16": {"bfloat16": info["matmul_bfloat16"], "float16": info["matmul_float16"]},
        "matmul32": info["matmul_float32"],
        "lstm16": {"bfloat16": info["lstm_bfloat16"], "float16": info["lstm_float16"]},
        "attention16": {"bfloat16": info["attention_bfloat16"],
                        "float16": info["attention_float16"]},
        "conv16": info["conv16_policy"],
        "conv16_plans": {
            dtype: dict(zip(("16-bit", "float32"), info[f"conv_{dtype}_plans"]))
            for dtype in ("bfloat16", "float16")
        },
        "conv_gemm": info["conv_gemm_policy"],
    }
