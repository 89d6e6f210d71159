"""What gpu2mlu cannot convert safely, found in one Python source, and why."""

import dataclasses
import re

import libcst as cst
import libcst.matchers as m
from libcst.metadata import MetadataWrapper, PositionProvider, QualifiedNameProvider

from . import rules

_CUDA_API = re.compile(r"torch\.cuda\.(\w+)(?:\.(\w+))?")


@dataclasses.dataclass(frozen=True)
class Hazard:
    line: int
    kind: str  # a key of rules.WHY, or "CUDA-only library"
    code: str  # the source line, or what was found
    why: str


class HazardScanner(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider, QualifiedNameProvider)

    def __init__(self, lines):
        super().__init__()
        self.lines = lines
        self.hazards = {}  # (line, kind, why) -> Hazard: one per line and reason
        self.capability_names = set()  # variables holding get_device_capability()
        self.properties_names = set()  # variables holding get_device_properties()

    def _report(self, node, kind, why=None):
        line = self.get_metadata(PositionProvider, node).start.line
        why = why or rules.WHY[kind]
        self.hazards.setdefault((line, kind, why),
                                Hazard(line, kind, self.lines[line - 1].strip(), why))

    def _names(self, node):
        return {name.name for name in self.get_metadata(QualifiedNameProvider, node, set())}

    def _calls(self, node, api):
        """Calls to ``api`` within node (node included)."""
        return [call for call in m.findall(node, m.Call()) if api in self._names(call.func)]

    # CUDA-only libraries and Triton
    def visit_Import(self, node):
        for alias in node.names:
            self._check_library(node, _root(alias.name))

    def visit_ImportFrom(self, node):
        if node.module is not None and not node.relative:
            self._check_library(node, _root(node.module))

    def _check_library(self, node, package):
        if package == "triton":
            self._report(node, "Triton kernel")
        elif package in rules.CUDA_ONLY_LIBRARIES:
            self._report(node, "CUDA-only library", rules.CUDA_ONLY_LIBRARIES[package])

    def visit_Decorator(self, node):
        target = node.decorator.func if isinstance(node.decorator, cst.Call) else node.decorator
        if any(name.startswith("triton.") for name in self._names(target)):
            self._report(node, "Triton kernel")

    # torch.cuda APIs without a counterpart, CUDA graphs
    def visit_Attribute(self, node):
        self._check_cuda_api(node)

    def visit_Name(self, node):
        self._check_cuda_api(node)

    def _check_cuda_api(self, node):
        for name in self._names(node):
            match = _CUDA_API.fullmatch(name)
            if match is None:
                continue
            api, member = match.groups()
            if api in rules.CUDA_GRAPH_APIS:
                self._report(node, "CUDA graphs")
            elif api == "get_arch_list":
                self._report(node, "capability check")
            elif api == "amp" and member not in (None, *rules.AMP_CLASSES):
                self._report(node, "no MLU counterpart", f"torch.cuda.amp.{member}: "
                             "left unchanged, torch.amp's needs device_type='mlu'")
            elif api not in rules.CUDA_TO_MLU and api != "amp":
                self._report(node, "no MLU counterpart",
                             f"torch.cuda.{api}: {rules.WHY['no MLU counterpart']}")

    # CUDA sources and extensions
    def visit_SimpleString(self, node):
        text = node.raw_value
        if text.endswith((".cu", ".cuh")):
            self._report(node, "CUDA source")
        if rules.ARCH_STRING.search(text):
            self._report(node, "capability check")

    def visit_Call(self, node):
        names = self._names(node.func)
        if "torch.utils.cpp_extension.CUDAExtension" in names:
            self._report(node, "CUDA extension")
        loaders = {"torch.utils.cpp_extension.load", "torch.utils.cpp_extension.load_inline"}
        if names & loaders and any(arg.keyword is not None and arg.keyword.value == "cuda_sources"
                                   for arg in node.args):
            self._report(node, "CUDA extension")

    # comparisons with "cuda"/"nccl", and with NVIDIA compute capabilities
    def visit_Assign(self, node):
        targets = {name.value for target in node.targets
                   for name in m.findall(target.target, m.Name())}
        if self._calls(node.value, "torch.cuda.get_device_capability"):
            self.capability_names |= targets
        if self._calls(node.value, "torch.cuda.get_device_properties"):
            self.properties_names |= targets

    def visit_Comparison(self, node):
        operands = [node.left, *(target.comparator for target in node.comparisons)]
        if any(isinstance(operand, cst.SimpleString) and rules.names_cuda(operand.raw_value)
               for operand in operands):
            self._report(node, "device comparison")
        if self._compares_capability(node):
            self._report(node, "capability check")

    def _compares_capability(self, node):
        if self._calls(node, "torch.cuda.get_device_capability"):
            return True
        if any(name.value in self.capability_names for name in m.findall(node, m.Name())):
            return True
        for attribute in m.findall(node, m.Attribute(attr=m.Name("major") | m.Name("minor"))):
            value = attribute.value
            if self._calls(value, "torch.cuda.get_device_properties") or \
                    (isinstance(value, cst.Name) and value.value in self.properties_names):
                return True
        return False


def _root(node):
    """The top-level package of an imported dotted name."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return node.value


def scan_source(code):
    """[Hazard] of one Python source, by line; raises libcst.ParserSyntaxError."""
    scanner = HazardScanner(code.splitlines())
    MetadataWrapper(cst.parse_module(code)).visit(scanner)
    return sorted(scanner.hazards.values(), key=lambda hazard: hazard.line)
