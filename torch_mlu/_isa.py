"""Which variant of the kernel library this process runs (kernels/CMakeLists.txt builds one per
instruction-set level; the dynamic loader picks the best one this CPU has). Runs before the
extension loads: it refuses a CPU the base variant cannot run on, and MLU_KERNELS_ISA=<level>
loads that variant first, so that the extension's dependency on libmlu_kernels.so is satisfied by
it (the loader matches an already loaded library by its soname)."""

import ctypes
import importlib.util
import os

# The CPU flags (as /proc/cpuinfo names them) each -march level needs, as glibc-hwcaps checks them.
_V2 = ("cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3")
_V3 = _V2 + ("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe")
_V4 = _V3 + ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")
LEVEL_FLAGS = {"x86-64": (), "x86-64-v2": _V2, "x86-64-v3": _V3, "x86-64-v4": _V4}


def _cpu_flags():
    """The CPU's flags, or None where /proc/cpuinfo does not list them (then nothing is refused:
    the loader's own choice stands)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), None)
    except OSError:
        return None
    return None if flags is None else set(flags)


def missing_flags(level, flags):
    """The flags a variant compiled for `level` needs and this CPU lacks ("native": none known)."""
    if flags is None:
        return []
    return [f for f in LEVEL_FLAGS.get(level, ()) if f not in flags]


def variants(lib_dir):
    """The built variants, best last: [(level, path)]."""
    try:
        with open(os.path.join(lib_dir, "kernel_variants")) as f:
            return [(level, os.path.join(lib_dir, path))
                    for level, path in (line.split() for line in f if line.strip())]
    except OSError:
        return []


def load():
    """Checks this CPU against the base variant and loads MLU_KERNELS_ISA's variant, if set."""
    spec = importlib.util.find_spec("torch_mlu._C")
    if spec is None or spec.origin is None:
        return
    built = variants(os.path.join(os.path.dirname(spec.origin), "lib"))
    if not built:
        return  # an extension built elsewhere (the sanitizer builds') finds its own library
    flags = _cpu_flags()
    base = built[0][0]
    missing = missing_flags(base, flags)
    if missing:
        raise ImportError(
            f"torch_mlu: this CPU lacks {' '.join(missing)}, which the kernel library's base "
            f"variant ({base}) uses; build torch_mlu with "
            "--config-settings=cmake.define.MLU_KERNELS_ISAS='x86-64;x86-64-v3;x86-64-v4'")
    requested = os.environ.get("MLU_KERNELS_ISA")
    if not requested:
        return
    paths = dict(built)
    if requested not in paths:
        raise ImportError(f"MLU_KERNELS_ISA={requested}: the kernel library was built for "
                          f"{', '.join(paths)} only")
    missing = missing_flags(requested, flags)
    if missing:
        raise ImportError(f"MLU_KERNELS_ISA={requested}: this CPU lacks {' '.join(missing)}")
    ctypes.CDLL(paths[requested])
