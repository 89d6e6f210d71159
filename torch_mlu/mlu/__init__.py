"""torch.mlu: the MLU counterpart of torch.cuda."""

from .device import (
    device,
    device_count,
    current_device,
    get_device_capability,
    get_device_name,
    get_device_properties,
    init,
    is_available,
    is_initialized,
    set_device,
    synchronize,
    _is_in_bad_fork,
    _lazy_init,
    _synchronize_at_exit,
)
from .streams import Event, Stream, StreamContext, current_stream, default_stream, set_stream, stream
from . import memory
from .memory import (
    empty_cache,
    max_memory_allocated,
    max_memory_reserved,
    mem_get_info,
    memory_allocated,
    memory_reserved,
    memory_snapshot,
    memory_stats,
    memory_summary,
    reset_accumulated_memory_stats,
    reset_max_memory_allocated,
    reset_peak_memory_stats,
    set_per_process_memory_fraction,
)
from .random import (
    default_generators,
    get_rng_state,
    get_rng_state_all,
    initial_seed,
    manual_seed,
    manual_seed_all,
    seed,
    seed_all,
    set_rng_state,
    set_rng_state_all,
)
from .graphs import MLUGraph, graph, graph_pool_handle, is_current_stream_capturing, make_graphed_callables
from .isa import kernel_isa
from .fallback import fallback_stats, fallback_table, reset_fallback_stats
from . import amp
from .compiled import CompileReport, _queued_kernel, compile_report, kernel_launches
from .shadow import ShadowReport, shadow_check
from .amp import get_amp_supported_dtype, is_bf16_supported
from .tensor_types import (
    BFloat16Tensor,
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)

__all__ = [name for name in dir() if not name.startswith("_")]
