"""Command-line tools: ``python -m torch_mlu.tools.gpu2mlu`` converts CUDA code to mlu."""
